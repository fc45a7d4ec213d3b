"""A worker of another account (a wrong secret key, another
server URL) on the stream must leave the entries alone, as README promises, not use up
their delivery count so the right worker dead-letters them as poison."""

from __future__ import annotations

import itertools
import time

import pytest

from autumn_async import AsyncAutumn
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_emulator import EmulatorThread

from .conftest import account_of, assert_exactly_once, drained, event, until
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_wrong_account_worker_does_not_poison_the_stream(
    redis_server: RedisServer, emu: EmulatorThread
) -> None:
    probe = RedisSpool(redis_server.url)
    await probe.open(account_of(emu))
    events = [event() for _ in range(5)]
    await probe.put(events)
    ticks = itertools.count()  # its clock moves a second per look: every claim() may reclaim
    wrong = RedisSpool(redis_server.url, lease=0.3, clock=lambda: time.time() + next(ticks))
    await wrong.open("another-account-fingerprint")  # a worker with another key or server
    try:
        for _ in range(3 * probe.max_deliveries):  # a worker's claim loop, a while
            assert await wrong.claim(10, wait=0.05) == []  # it never takes them to send
        await wrong.close()  # the misconfigured worker is stopped, the right one starts
        async with AsyncAutumn(secret_key=emu.secret_key, server_url=emu.url) as autumn:
            batcher = autumn.batcher(spool=RedisSpool(redis_server.url, lease=1.0))
            await batcher.__aenter__()
            try:
                await until(lambda: drained(probe), timeout=20)
            finally:
                await batcher._hand_back(2.0)
        assert [d.reason for d in await probe.dead_letters()] == []
        assert_exactly_once(emu.ledger(), {e.key for e in events})
    finally:
        await wrong.close()
        await probe.close()
