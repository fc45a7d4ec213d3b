"""Batcher defaults and the spool's cost, against the emulator with 10-50 ms latency.

For each latency, one fresh client process per scenario tracks ``--events`` events from
ONE thread (or one coroutine) calling ``track()`` in a loop while delivery runs, then
closes the batcher. Reported: the cost of one ``track()`` call in that loop (what a
worker pays), the end-to-end time until ``close()`` returned (every event delivered),
and the requests the emulator received (what counts against Autumn's limits). Raw
``balances.track`` calls (sequential, and 16 at a time) are the baseline.

By hand, not part of ``make test``: ``python benchmarks/bench_batcher_defaults.py
[--events 12500] [--latency 10 50] [--out benchmarks/batcher_defaults.md]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

SEED = {"features": [{"id": "messages", "type": "metered"}], "customers": [{"id": "c1"}]}
ROUTES = ("/v1/balances.track", "/v1/balances.batch_track")

#: name -> (client kind, batcher options or None for raw calls)
SCENARIOS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "raw track, sequential (sync)": ("raw-seq", None),
    "raw track, 16 in flight (async)": ("raw-16", None),
    "batcher defaults, in memory (sync)": ("sync", {}),
    "batcher defaults, spool (sync)": ("sync", {"spool": True}),
    "batcher defaults, in memory (async)": ("async", {}),
    "batcher defaults, spool (async)": ("async", {"spool": True}),
    "batch_track, no request pacing": ("sync", {"max_requests_per_second": None}),
    "track mode (16 in flight)": ("sync", {"mode": "track"}),
    "track mode, spool": ("sync", {"mode": "track", "spool": True}),
}


def _admin(url: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def _requests(url: str) -> int:
    return int(_admin(url, "/_emulator/stats")["total"])


def _child_sync(url: str, kind: str, options: dict[str, Any], events: int) -> dict[str, Any]:
    from autumn_sync import Autumn

    with (
        Autumn(secret_key="am_sk_test", server_url=url) as autumn,
        tempfile.TemporaryDirectory() as tmp,
    ):
        autumn.warm_up()
        if kind == "raw-seq":
            n = min(events, 300)
            start = time.perf_counter()
            for _ in range(n):
                autumn.balances.track(customer_id="c1", feature_id="messages")
            elapsed = time.perf_counter() - start
            return {"track_us": elapsed / n * 1e6, "total_s": elapsed * events / n, "n": n}
        if options.pop("spool", False):
            options["spool_path"] = str(Path(tmp) / "spool.db")
        batcher = autumn.batcher(**options)
        start = time.perf_counter()
        for _ in range(events):
            batcher.track(customer_id="c1", feature_id="messages")
        loop_s = time.perf_counter() - start
        batcher.close()
        total = time.perf_counter() - start
        assert batcher.stats.delivered == events, batcher.stats
        return {"track_us": loop_s / events * 1e6, "total_s": total, "n": events}


async def _child_async(url: str, kind: str, options: dict[str, Any], events: int) -> dict[str, Any]:
    from autumn_async import AsyncAutumn

    async with AsyncAutumn(secret_key="am_sk_test", server_url=url) as autumn:
        await autumn.warm_up()
        if kind == "raw-16":
            n = min(events, 3000)
            sem = asyncio.Semaphore(16)

            async def one() -> None:
                async with sem:
                    await autumn.balances.track(customer_id="c1", feature_id="messages")

            start = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            elapsed = time.perf_counter() - start
            return {"track_us": elapsed / n * 1e6, "total_s": elapsed * events / n, "n": n}
        with tempfile.TemporaryDirectory() as tmp:
            if options.pop("spool", False):
                options["spool_path"] = str(Path(tmp) / "spool.db")
            batcher = autumn.batcher(**options)
            await batcher.__aenter__()
            start = time.perf_counter()
            for _ in range(events):
                await batcher.track(customer_id="c1", feature_id="messages")
            loop_s = time.perf_counter() - start
            await batcher.aclose()
            total = time.perf_counter() - start
            assert batcher.stats.delivered == events, batcher.stats
            return {"track_us": loop_s / events * 1e6, "total_s": total, "n": events}


def _run_child(url: str, name: str, events: int, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, name, "--events", str(events)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=12_500)
    parser.add_argument("--latency", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("URL", "SCENARIO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, name = args.child
        kind, options = SCENARIOS[name]
        options = dict(options or {})
        if kind in ("sync", "raw-seq"):
            result = _child_sync(url, kind, options, args.events)
        else:
            result = asyncio.run(_child_async(url, kind, options, args.events))
        print(json.dumps(result))
        return 0
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps(SEED))
        server = subprocess.Popen(
            [sys.executable, "-m", "autumn_emulator", "--port", "0", "--seed-file", seed],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            url = server.stdout.readline().split()[-1]
            for latency in args.latency:
                urllib.request.urlopen(
                    urllib.request.Request(url + "/_emulator/faults", method="DELETE")
                ).close()
                for route in ROUTES:
                    _admin(url, "/_emulator/faults", {"route": route, "kind": "latency",
                                                      "latency_ms": latency})  # fmt: skip
                for name in SCENARIOS:
                    for _ in range(args.rounds):
                        before = _requests(url)
                        result = _run_child(url, name, args.events, env)
                        result.update(scenario=name, latency_ms=latency)
                        result["requests"] = _requests(url) - before
                        print(json.dumps(result), flush=True)
                        rows.append(result)
        finally:
            server.terminate()
            server.wait()
    if args.out is not None:
        _write(args.out, rows, args.events)
    return 0


def _write(path: Path, rows: list[dict[str, Any]], events: int) -> None:
    lines = [
        f"{events:,} events from one thread (or coroutine) calling `track()` in a loop, then "
        "`close()`:",
        "",
        "| latency | scenario | `track()` µs/call | until all delivered (s) | events/s end to end"
        " | requests | requests/s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        scaled = "" if r["n"] == events else f" (from {r['n']:,} calls)"
        lines.append(
            f"| {r['latency_ms']} ms | {r['scenario']} | {r['track_us']:,.1f} | "
            f"{r['total_s']:.2f}{scaled} | {events / r['total_s']:,.0f} | {r['requests']:,} | "
            f"{r['requests'] / r['total_s']:,.1f} |"
        )
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
