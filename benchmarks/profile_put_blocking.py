"""One thread calling ``RedisSpool.put_blocking([event])`` (what the sync ``track()`` on a
``deliver=False`` batcher does): wall time and CPU per call, split into user (the SDK and
redis-py) and system (the kernel's sendall/recv), optionally under cProfile.

``python benchmarks/profile_put_blocking.py [CALLS] [--profile]``; figures in FLEET.md.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autumn_async._fleet._redis_spool import RedisSpool  # noqa: E402
from autumn_async._fleet._spool import SpooledEvent  # noqa: E402
from tests.fleet.redis_server import RedisServer  # noqa: E402


def _event() -> SpooledEvent:
    key = uuid.uuid4().hex
    body = {"customer_id": "c1", "feature_id": "messages", "value": 1, "idempotency_key": key}
    return SpooledEvent(
        key=key, body=json.dumps(body, separators=(",", ":")).encode(), created_at=time.time()
    )


def main() -> None:
    calls = int(next((a for a in sys.argv[1:] if a.isdigit()), "20000"))
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp), fsync="everysec")
        server.start()
        try:
            spool = RedisSpool(server.url, max_backlog=10**9)
            asyncio.run(spool.open("acct"))
            events = [_event() for _ in range(calls + 1)]
            spool.put_blocking([events.pop()])  # connect and load the script first
            profile = cProfile.Profile() if "--profile" in sys.argv else None
            if profile:
                profile.enable()
            t0, before = time.perf_counter(), os.times()
            for event in events:
                spool.put_blocking([event])
            wall, after = time.perf_counter() - t0, os.times()
            if profile:
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(15)
            user = (after.user - before.user) / calls * 1e6
            system = (after.system - before.system) / calls * 1e6
            print(
                f"{calls} calls: {wall / calls * 1e6:.1f} us wall, {user + system:.1f} us CPU "
                f"per call (user {user:.1f}, system {system:.1f})"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
