"""What a spool costs ``track()``: in-memory and spooled batchers, interleaved in ONE process.

One thread (sync) or one coroutine (async) calls ``track()`` ``--events`` times in a loop
while delivery runs against the emulator (in its own process, ``--latency`` ms per
request), then closes the batcher; in-memory and spooled runs alternate for
``--rounds`` rounds, so both see the same machine. Reported: µs per ``track()`` call
(wall clock, and the calling thread's CPU time, which other processes on a shared machine
disturb far less), median and best over the rounds, and their ratio (target: at most 4x).

By hand: ``python benchmarks/bench_spool_cost.py [--events 12500] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

SEED = {"features": [{"id": "messages", "type": "metered"}], "customers": [{"id": "c1"}]}


def _sync_round(url: str, events: int, spool: str | None) -> tuple[float, float]:
    from autumn_sync import Autumn

    with Autumn(secret_key="am_sk_test", server_url=url) as autumn:
        batcher = autumn.batcher(spool_path=spool)
        start, cpu = time.perf_counter(), time.thread_time()
        for _ in range(events):
            batcher.track(customer_id="c1", feature_id="messages")
        elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
        batcher.close()
        assert batcher.stats.delivered == events, batcher.stats
    return elapsed / events * 1e6, cpu / events * 1e6


async def _async_round(url: str, events: int, spool: str | None) -> tuple[float, float]:
    from autumn_async import AsyncAutumn

    async with AsyncAutumn(secret_key="am_sk_test", server_url=url) as autumn:
        async with autumn.batcher(spool_path=spool) as batcher:
            start, cpu = time.perf_counter(), time.thread_time()
            for _ in range(events):
                await batcher.track(customer_id="c1", feature_id="messages")
            elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
        assert batcher.stats.delivered == events, batcher.stats
    return elapsed / events * 1e6, cpu / events * 1e6


def _child(url: str, kind: str, events: int, rounds: int) -> dict[str, Any]:
    memory: list[float] = []
    spooled: list[float] = []
    memory_cpu: list[float] = []
    spooled_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            for target, cpus, spool in (
                (memory, memory_cpu, None),
                (spooled, spooled_cpu, str(Path(tmp) / f"s{n}.db")),
            ):
                if kind == "sync":
                    wall, cpu = _sync_round(url, events, spool)
                else:
                    wall, cpu = asyncio.run(_async_round(url, events, spool))
                target.append(round(wall, 1))
                cpus.append(round(cpu, 1))
    return {
        "kind": kind,
        "memory_us": memory,
        "spool_us": spooled,
        "median_ratio": statistics.median(spooled) / statistics.median(memory),
        "best_ratio": min(spooled) / min(memory),
        "round_ratios": [round(s / m, 2) for s, m in zip(spooled, memory, strict=True)],
        "memory_cpu_us": memory_cpu,
        "spool_cpu_us": spooled_cpu,
        "median_cpu_ratio": statistics.median(spooled_cpu) / statistics.median(memory_cpu),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=12_500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency", type=int, default=10)
    parser.add_argument("--child", nargs=2, metavar=("URL", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, kind = args.child
        print(json.dumps(_child(url, kind, args.events, args.rounds)))
        return 0
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
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
            body = {"route": "/v1/balances.batch_track", "kind": "latency",
                    "latency_ms": args.latency}  # fmt: skip
            request = urllib.request.Request(
                url + "/_emulator/faults", data=json.dumps(body).encode(), method="POST"
            )
            request.add_header("Content-Type", "application/json")
            urllib.request.urlopen(request).close()
            for kind in ("sync", "async"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", url, kind, "--events",
                     str(args.events), "--rounds", str(args.rounds)],
                    capture_output=True, text=True, env=env, check=True,
                )  # fmt: skip
                print(out.stdout.strip(), flush=True)
        finally:
            server.terminate()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
