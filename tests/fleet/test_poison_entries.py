"""Entries written straight into the stream by a buggy or hostile
producer must end as dead letters, never block the worker or the events next to them."""

from __future__ import annotations

import time

import pytest

from autumn_async import AsyncAutumn
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async._fleet._spool import SpooledEvent
from autumn_emulator import EmulatorThread

from .conftest import account_of, drained, event, until
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


async def deliver_until_drained(url: str, emu: EmulatorThread, probe: RedisSpool) -> None:
    """A delivering batcher (what ``fleet run`` is) until Redis holds nothing unsettled."""
    async with AsyncAutumn(secret_key=emu.secret_key, server_url=emu.url) as autumn:
        batcher = autumn.batcher(spool=RedisSpool(url, lease=1.0))
        await batcher.__aenter__()
        try:
            await until(lambda: drained(probe), timeout=20)
        finally:
            await batcher._hand_back(2.0)


async def test_non_json_body_is_dead_lettered(
    redis_server: RedisServer, emu: EmulatorThread
) -> None:
    """Expected: the garbage event is dead-lettered, its neighbour delivered, backlog 0."""
    probe = RedisSpool(redis_server.url)
    await probe.open(account_of(emu))
    good = event()
    garbage = SpooledEvent(key="garbage-1", body=b"\x00not json{", created_at=time.time())
    await probe.put([garbage, good])
    try:
        await deliver_until_drained(redis_server.url, emu, probe)
        assert [d.key for d in await probe.dead_letters()] == ["garbage-1"]
        assert [e["idempotency_key"] for e in emu.ledger()] == [good.key]
    finally:
        await probe.close()
