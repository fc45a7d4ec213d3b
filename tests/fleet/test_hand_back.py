"""README's 'poison' is an entry 'delivered more than 10 times
(it keeps killing workers)'. Clean hand-backs at SIGTERM (rolling deploys, autoscaling
down while Autumn is slow) kill nobody and must not make an event poison."""

from __future__ import annotations

import pytest

from autumn_async._fleet._redis_spool import RedisSpool

from .conftest import event
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_clean_hand_backs_do_not_make_poison(redis_server: RedisServer) -> None:
    events = [event() for _ in range(3)]
    producer = RedisSpool(redis_server.url)
    await producer.open("acct")
    await producer.put(events)
    try:
        for _ in range(12):  # twelve workers in turn: each claims, then is told to stop
            worker = RedisSpool(redis_server.url, lease=30.0)
            await worker.open("acct")
            try:
                got = await worker.claim(10, wait=0.5)
                assert sorted(e.key for e in got) == sorted(e.key for e in events)
                await worker.release([e.key for e in got])  # the SIGTERM hand-back
            finally:
                await worker.close()
        assert await producer.dead_letters() == []
    finally:
        await producer.close()
