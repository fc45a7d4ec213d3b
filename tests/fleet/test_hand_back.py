"""README's 'poison' is an entry 'delivered more than 10 times
(it keeps killing workers)'. Clean hand-backs at SIGTERM (rolling deploys, autoscaling
down while Autumn is slow) kill nobody and must not make an event poison."""

from __future__ import annotations

import logging

import pytest

from autumn_async import AsyncAutumn, AsyncUsageBatcher
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_emulator import EmulatorThread

from .conftest import account_of, event, until
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


async def test_a_worker_handing_back_at_stop_logs_info_not_a_warning(
    redis_server: RedisServer, emu: EmulatorThread, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker's stop hands its claims back to the stream: its normal end, so the
    closing totals are an INFO line (a WARNING would read as lost events)."""
    producer = RedisSpool(redis_server.url)
    await producer.open(account_of(emu))
    await producer.put([event() for _ in range(3)])
    caplog.set_level(logging.INFO, logger="autumn_balances")
    try:
        # Autumn answers too slowly: the worker stops with all three claimed, unsent.
        emu.set_fault("/v1/balances.batch_track", "latency", latency_ms=5000)
        async with AsyncAutumn(secret_key=emu.secret_key, server_url=emu.url) as autumn:
            batcher = autumn.batcher(spool=RedisSpool(redis_server.url, lease=30.0))
            await batcher.__aenter__()
            await until(lambda: _claimed(batcher), timeout=20)
            await batcher._hand_back(0.0)
        closing = [r for r in caplog.records if "usage batcher closed" in r.getMessage()]
        assert [r.levelname for r in closing] == ["INFO"]
        assert (await producer.status())["pending"] == 3
    finally:
        await producer.close()


async def _claimed(batcher: AsyncUsageBatcher) -> bool:
    return batcher.stats.recovered == 3
