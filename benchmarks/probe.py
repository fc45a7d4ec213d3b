"""Measure one client in one scenario, in this (fresh) process; print one JSON line.

Run by ``run.py``, never by hand, though it can be::

    python benchmarks/probe.py --client ours-async --op check --mode seq --base URL
    python benchmarks/probe.py --client ours-sync --mode startup --module autumn_sync \
        --entry Autumn --base URL

Async clients run on asyncio's default loop, or on uvloop with ``--loop uvloop``.
Modes: ``seq`` (one call at a time), ``conc`` (``--inflight`` async calls in flight),
``threads`` (``--threads`` blocking callers sharing one client), ``startup`` (time and
RSS after ``import module``, after ``from module import entry``, after creating a client
and after its first call; the async client makes no call there), ``noio`` (our clients
with an in-memory transport that answers at once: the SDK's own work per call).

Only ``sys``, ``os`` and ``time`` are imported before ``startup`` measures the import,
so the modules the measured import needs are not already loaded. ``--block a,b`` makes
those top-level modules unimportable (how the "without extras" variant hides orjson and
uvloop from the SDK without a second installation).
"""

import math
import os
import sys
import time
from typing import Any


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _Blocker:
    """A meta-path finder that makes the named top-level modules unimportable."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the benchmark)")


def _parse(argv: list[str]) -> dict[str, str]:
    # Not argparse: it would import re, gettext and more before the measured import.
    options: dict[str, str] = {}
    for key, value in zip(argv[::2], argv[1::2], strict=True):
        options[key.removeprefix("--")] = value
    return options


def _quantile(sorted_samples: list[float], q: float) -> float:
    if not sorted_samples:
        return float("nan")
    return sorted_samples[round(q * (len(sorted_samples) - 1))]


def _server_count(base: str) -> int:
    import http.client
    import json

    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/__count")
        return int(json.loads(conn.getresponse().read())["requests"])
    finally:
        conn.close()


# --- scenarios ------------------------------------------------------------------------


async def _async_workers(call, workers: int, until: float, samples: list[float]) -> int:
    import asyncio

    perf = time.perf_counter

    async def worker() -> int:
        done = 0
        now = perf()
        while now < until:
            await call()
            after = perf()
            samples.append(after - now)
            now = after
            done += 1
        return done

    return sum(await asyncio.gather(*(worker() for _ in range(workers))))


async def _run_async(adapter, op: str, mode: str, opts: dict[str, str]) -> dict[str, float]:
    base = opts["base"]
    workers = 1 if mode == "seq" else int(opts.get("inflight", "64"))
    await adapter.open(base)
    try:
        call = getattr(adapter, op)
        await _async_workers(call, workers, time.perf_counter() + float(opts["warmup"]), [])
        before = _server_count(base)
        samples: list[float] = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        calls = await _async_workers(call, workers, t0 + float(opts["seconds"]), samples)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        requests = _server_count(base) - before
    finally:
        await adapter.close()
    return _summary(calls, wall, cpu, samples, requests)


def _sync_workers(call, workers: int, until: float, samples: list[float]) -> int:
    import threading

    perf = time.perf_counter
    counts = [0] * workers
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        done = 0
        now = perf()
        try:
            while now < until:
                call()
                after = perf()
                samples.append(after - now)
                now = after
                done += 1
        except BaseException as exc:
            errors.append(exc)
        counts[index] = done

    if workers == 1:
        worker(0)
    else:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return sum(counts)


def _run_sync(adapter, op: str, mode: str, opts: dict[str, str]) -> dict[str, float]:
    base = opts["base"]
    workers = 1 if mode == "seq" else int(opts.get("threads", "8"))
    adapter.open(base)
    try:
        call = getattr(adapter, op)
        _sync_workers(call, workers, time.perf_counter() + float(opts["warmup"]), [])
        before = _server_count(base)
        samples: list[float] = []
        cpu0, t0 = time.process_time(), time.perf_counter()
        calls = _sync_workers(call, workers, t0 + float(opts["seconds"]), samples)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        requests = _server_count(base) - before
    finally:
        adapter.close()
    return _summary(calls, wall, cpu, samples, requests)


def _summary(
    calls: int, wall: float, cpu: float, samples: list[float], requests: int
) -> dict[str, float]:
    samples.sort()
    return {
        "calls": calls,
        "wall_s": wall,
        "per_call_us": wall / calls * 1e6,
        "throughput": calls / wall,
        "cpu_us": cpu / calls * 1e6,
        "p50_us": _quantile(samples, 0.50) * 1e6,
        "p99_us": _quantile(samples, 0.99) * 1e6,
        "requests_per_call": requests / calls,
        "rss_mib": rss_mib(),
    }


def _startup(opts: dict[str, str]) -> dict[str, float]:
    import importlib

    rss_start = rss_mib()
    t0 = time.perf_counter()
    module = importlib.import_module(opts["module"])
    import_s = time.perf_counter() - t0
    rss_import = rss_mib()
    t1 = time.perf_counter()
    getattr(module, opts["entry"])
    entry_s = time.perf_counter() - t1
    rss_entry = rss_mib()

    from adapters import ADAPTERS

    adapter = ADAPTERS[opts["client"]]()
    t2 = time.perf_counter()
    client = adapter.create(opts["base"])
    create_s = time.perf_counter() - t2
    rss_client = rss_mib()
    first_s = float("nan")
    if adapter.kind == "sync":
        bind = getattr(adapter, "bind", None)
        if bind is not None:
            bind(client)
        else:
            adapter.client = client
        t3 = time.perf_counter()
        adapter.check()
        first_s = time.perf_counter() - t3
    rss_first = rss_mib()
    if adapter.kind == "sync":
        adapter.close()
    return {
        "import_ms": import_s * 1e3,
        "entry_ms": entry_s * 1e3,
        "create_ms": create_s * 1e3,
        "first_call_ms": first_s * 1e3,
        "rss_start_mib": rss_start,
        "rss_import_mib": rss_import,
        "rss_entry_mib": rss_entry,
        "rss_client_mib": rss_client,
        "rss_first_call_mib": rss_first,
    }


def _noio(opts: dict[str, str]) -> dict[str, float]:
    """Best-of-batches µs per call of our clients with a canned in-memory transport."""
    import asyncio

    from adapters import ADAPTERS, canned_transport

    batch, batches = int(opts.get("batch", "3000")), int(opts.get("batches", "7"))
    result: dict[str, float] = {}
    for op in ("check", "track"):
        adapter = ADAPTERS[opts["client"]]()
        adapter.bind(adapter.create("http://127.0.0.1:9", transport=canned_transport(op)))
        call = getattr(adapter, op)
        best = math.inf
        if adapter.kind == "async":

            async def run(call: Any = call) -> float:
                fastest = math.inf
                for _ in range(batches + 1):  # the first batch warms up
                    t0 = time.perf_counter()
                    for _ in range(batch):
                        await call()
                    fastest = min(fastest, time.perf_counter() - t0)
                return fastest

            best = asyncio.run(run())
            asyncio.run(adapter.close())
        else:
            for _ in range(batches + 1):
                t0 = time.perf_counter()
                for _ in range(batch):
                    call()
                best = min(best, time.perf_counter() - t0)
            adapter.close()
        result[f"{op}_us"] = best / batch * 1e6
    return result


def main() -> None:
    opts = _parse(sys.argv[1:])
    if "cpu" in opts and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(opts["cpu"])})
    if opts.get("block"):
        sys.meta_path.insert(0, _Blocker(set(opts["block"].split(","))))
    if opts["mode"] == "startup":
        result = _startup(opts)
    elif opts["mode"] == "noio":
        result = _noio(opts)
    else:
        from adapters import ADAPTERS

        adapter = ADAPTERS[opts["client"]]()
        if adapter.kind == "async":
            import asyncio

            factory = None
            if opts.get("loop") == "uvloop":
                import uvloop

                factory = uvloop.new_event_loop
            with asyncio.Runner(loop_factory=factory) as runner:
                result = runner.run(_run_async(adapter, opts["op"], opts["mode"], opts))
        else:
            result = _run_sync(adapter, opts["op"], opts["mode"], opts)
    result["loaded_orjson"] = "orjson" in sys.modules
    result["loaded_uvloop"] = "uvloop" in sys.modules
    import json

    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
