"""Redis restarted without persistence (warned at start) loses
what was handed over, as README says; the running workers must still deliver what
producers hand over afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from autumn_async._fleet._redis_spool import RedisSpool

from .conftest import event
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_worker_recovers_its_group_after_a_volatile_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, aof=False)
    server.start()
    worker = RedisSpool(server.url, lease=1.0)
    producer = RedisSpool(server.url)
    try:
        await worker.open("acct")
        await producer.open("acct")
        server.stop()
        server.start()  # empty: nothing was persisted
        fresh = [event() for _ in range(3)]
        await producer.put(fresh)
        got: list[str] = []
        errors: list[str] = []
        for _ in range(5):  # a worker's claim loop: errors are logged and it tries again
            try:
                got += [e.key for e in await worker.claim(10, wait=0.05)]
            except Exception as exc:  # what the batcher's claim loop does
                errors.append(str(exc))
        assert sorted(got) == sorted(e.key for e in fresh), errors[-1:]
    finally:  # closed even when it fails: no connection left for the next test to collect
        await worker.close()
        await producer.close()
        server.stop()
