"""Usage batcher throughput: events per second, client CPU per event, peak memory.

Runs the emulator in its own process (so the client's CPU is measured alone), then one
fresh process per mode that tracks ``--events`` events through an ``AsyncUsageBatcher``
with a bounded queue and waits for every one to be delivered. Not a timed test: run it
by hand, ``python benchmarks/bench_batcher.py [--events 100000] [--modes track batch_track]``.

Peak memory is the process's maximum resident size (``ru_maxrss``), next to what it was
before the first event: with ``max_queue`` bounded it must stay flat however many events
go through.

``--server fast`` measures the client's capacity instead: the canned loopback server of
``server.py`` (pinned to the first core, the client to the second), which keeps no state,
so the emulator's own speed is out of the picture; the server's request count is checked
instead of the ledger. ``--out FILE`` writes the figures as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

SEED = {"features": [{"id": "messages", "type": "metered"}], "customers": [{"id": "c1"}]}


def _rss_kib() -> int:
    """This process's peak resident size so far, in KiB.

    VmHWM belongs to the process's own address space, so it starts afresh at exec;
    ``ru_maxrss`` does not (Linux carries it over from the parent that forked us, which
    made every mode after the first look as big as the parent's ledger reads).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


async def _run(url: str, mode: str, events: int, max_queue: int, coalesce: bool) -> dict[str, Any]:
    from autumn_async import AsyncAutumn

    async with AsyncAutumn(secret_key="am_sk_test", server_url=url) as autumn:
        await autumn.warm_up()
        batcher = autumn.batcher(
            mode=mode,
            max_queue=max_queue,
            max_concurrency=32 if mode == "track" else 4,
            max_requests_per_second=None,  # capacity, not the per-organisation pacing
            flush_interval=0.05,
            coalesce=coalesce,
        )
        base_rss = _rss_kib()
        wall, cpu = time.perf_counter(), time.process_time()
        async with batcher:
            for _ in range(events):
                await batcher.track(customer_id="c1", feature_id="messages")
            await batcher.flush()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stats = batcher.stats
    assert stats.delivered == events, stats
    return {
        "mode": mode + (" +coalesce" if coalesce else ""),
        "events": events,
        "events_per_s": round(events / wall),
        "client_cpu_us_per_event": round(cpu / events * 1e6, 1),
        "rss_before_mib": round(base_rss / 1024, 1),
        "peak_rss_mib": round(_rss_kib() / 1024, 1),
        "max_queue": max_queue,
    }


def _admin(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path) as response:
        return json.loads(response.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--max-queue", type=int, default=10_000)
    parser.add_argument("--modes", nargs="+", default=["track", "batch_track"])
    parser.add_argument("--coalesce", action="store_true", help="also run track with coalesce")
    parser.add_argument("--server", choices=["emulator", "fast"], default="emulator")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("URL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {1})
        url, mode = args.child
        coalesce = mode.endswith("+coalesce")
        mode = mode.removesuffix("+coalesce")
        result = asyncio.run(_run(url, mode, args.events, args.max_queue, coalesce))
        print(json.dumps(result))
        return 0
    modes = list(args.modes) + (["track+coalesce"] if args.coalesce else [])
    results = (
        _against_fast(args, modes) if args.server == "fast" else _against_emulator(args, modes)
    )
    if args.out is not None:
        _write_table(args.out, args.server, results)
    return 0


def _child(args: argparse.Namespace, url: str, mode: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--events", str(args.events), "--max-queue",
         str(args.max_queue), "--child", url, mode],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def _against_fast(args: argparse.Namespace, modes: list[str]) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("server.py")), "--cpu", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    results = []
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{int(server.stdout.readline().split()[1])}"
        for mode in modes:
            before = _count(url)
            result = _child(args, url, mode, env)
            result["requests"] = _count(url) - before
            print(json.dumps(result))
            results.append(result)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait()
    return results


def _count(url: str) -> int:
    with urllib.request.urlopen(url + "/__count") as response:
        return int(json.loads(response.read())["requests"])


def _write_table(path: Path, server: str, results: list[dict[str, Any]]) -> None:
    lines = [
        f"Against the {'canned fast server (client capacity)' if server == 'fast' else 'emulator'}"
        ", 1 run each:",
        "",
        "| mode | events | events/s | client CPU µs/event | RSS before → peak (MiB) | max_queue |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| `{r['mode']}` | {r['events']:,} | {r['events_per_s']:,} | "
        f"{r['client_cpu_us_per_event']} | {r['rss_before_mib']} → {r['peak_rss_mib']} | "
        f"{r['max_queue']:,} |"
        for r in results
    ]
    path.write_text("\n".join(lines) + "\n")


def _against_emulator(args: argparse.Namespace, modes: list[str]) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps(SEED))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
        server = subprocess.Popen(
            [sys.executable, "-m", "autumn_emulator", "--port", "0", "--seed-file", seed],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split()[-1]
            for mode in modes:
                before = len(_admin(url, "/_emulator/ledger")["events"])
                result = _child(args, url, mode, env)
                ledger = _admin(url, "/_emulator/ledger")["events"][before:]
                landed = sum(event["value"] for event in ledger)
                result["ledger_total_ok"] = landed == args.events
                print(json.dumps(result))
                results.append(result)
        finally:
            server.terminate()
            server.wait()
    return results


if __name__ == "__main__":
    sys.exit(main())
