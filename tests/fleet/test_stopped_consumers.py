"""Review: a worker stopped by SIGTERM while it holds entries hands them back (README:
"hands unfinished entries back at once") but, holding them at that moment, never deletes its
consumer; once a peer has taken them over nobody does. Every rolling deploy under load
leaves one more consumer in the group, listed by `fleet status` forever (seen in the
README recipe: a stopped worker still listed, "0 pending, idle 39s", next to the live one).
"""

from __future__ import annotations

import pytest

from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async._fleet._spool import SpooledEvent

from .conftest import event
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_a_stopped_workers_consumer_does_not_linger(
    redis_server: RedisServer,
) -> None:
    producer = RedisSpool(redis_server.url)
    await producer.open("acct")
    await producer.put([event() for _ in range(3)])
    stopping = RedisSpool(redis_server.url, lease=30.0)
    successor = RedisSpool(redis_server.url, lease=30.0)
    try:
        await stopping.open("acct")
        got: list[SpooledEvent] = []
        while len(got) < 3:
            got += await stopping.claim(10, wait=0.5)
        await stopping.close()  # the SIGTERM path: hands back what it holds
        gone = stopping.consumer

        await successor.open("acct")
        taken: list[SpooledEvent] = []
        while len(taken) < 3:
            taken += await successor.claim(10, wait=0.5)
        await successor.settle([e.key for e in taken])
        # Long after the takeover, more work comes and goes: the fleet is steady.
        await producer.put([event()])
        await successor.settle([e.key for e in await successor.claim(10, wait=0.5)])

        status = await producer.status()
        assert status["pending"] == 0
        names = [c["name"] for c in status["consumers"]]
        assert gone not in names, names
    finally:
        await successor.close()
        await producer.close()
