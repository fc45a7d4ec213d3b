"""Profile one client's calls with cProfile against the benchmark server.

    .venv/bin/python benchmarks/profile_calls.py ours-async check
    .venv/bin/python benchmarks/profile_calls.py ours-async check --mode conc --calls 20000
    .venv/bin/python benchmarks/profile_calls.py ours-sync track --block orjson,uvloop

Starts ``server.py`` on one core, runs the client on the other (warm-up first, then
``--calls`` profiled calls) and prints the functions with the most own time and the
most cumulative time. For the sync client, the portal thread's work is profiled too
(a second profiler is switched on from a coroutine running on the private loop, since
profiling is per thread).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import subprocess
import sys
from pathlib import Path
from typing import Any

import probe
from adapters import ADAPTERS
from run import cores, start_server

HERE = Path(__file__).resolve().parent


async def _async_calls(adapter: Any, op: str, calls: int, inflight: int) -> None:
    call = getattr(adapter, op)
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(inflight)))


async def _profile_async(adapter: Any, op: str, opts: argparse.Namespace) -> cProfile.Profile:
    await adapter.open(opts.base)
    inflight = 1 if opts.mode == "seq" else opts.inflight
    await _async_calls(adapter, op, opts.warmup, inflight)
    profiler = cProfile.Profile()
    profiler.enable()
    await _async_calls(adapter, op, opts.calls, inflight)
    profiler.disable()
    await adapter.close()
    return profiler


def _profile_sync(adapter: Any, op: str, opts: argparse.Namespace) -> list[cProfile.Profile]:
    adapter.open(opts.base)
    call = getattr(adapter, op)
    for _ in range(opts.warmup):
        call()
    profilers = [cProfile.Profile()]
    portal = _portal_loop()
    if portal is not None:
        # Profile the loop thread too, by switching a profiler on from inside it.
        loop_profiler = cProfile.Profile()
        profilers.append(loop_profiler)
        asyncio.run_coroutine_threadsafe(_toggle(loop_profiler, True), portal).result()
    profilers[0].enable()
    for _ in range(opts.calls):
        call()
    profilers[0].disable()
    if portal is not None:
        asyncio.run_coroutine_threadsafe(_toggle(profilers[1], False), portal).result()
    adapter.close()
    return profilers


def _portal_loop() -> asyncio.AbstractEventLoop | None:
    module = sys.modules.get("autumn_sync._portal")
    loop = getattr(module, "_loop", None) if module is not None else None
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


async def _toggle(profiler: cProfile.Profile, on: bool) -> None:
    if on:
        profiler.enable()
    else:
        profiler.disable()


def _print(profilers: list[cProfile.Profile], top: int) -> None:
    for order in ("tottime", "cumulative"):
        stream = io.StringIO()
        pstats.Stats(*profilers, stream=stream).sort_stats(order).print_stats(top)
        print(f"==== by {order} ====")
        print(stream.getvalue().split("\n\n", 2)[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("client", choices=sorted(ADAPTERS))
    parser.add_argument("op", choices=("check", "track"))
    parser.add_argument("--mode", choices=("seq", "conc"), default="seq")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--block", default="", help="e.g. orjson,uvloop")
    opts = parser.parse_args()
    if opts.block:
        sys.meta_path.insert(0, probe._Blocker(set(opts.block.split(","))))
        os.environ["AUTUMN_SYNC_NO_UVLOOP"] = "1"
    server_cpu, client_cpu = cores()
    server, opts.base = start_server(server_cpu)
    try:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        adapter = ADAPTERS[opts.client]()
        if adapter.kind == "async":
            profilers = [asyncio.run(_profile_async(adapter, opts.op, opts))]
        else:
            profilers = _profile_sync(adapter, opts.op, opts)
        _print(profilers, opts.top)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
