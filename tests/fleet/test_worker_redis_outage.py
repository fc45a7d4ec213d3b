"""A worker must survive Redis being away for longer than
redis-py's own retries (a restart that takes a few seconds, a failover)."""

from __future__ import annotations

import logging

import pytest

from autumn_async import AsyncAutumn
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_emulator import EmulatorThread

from .conftest import account_of, assert_exactly_once, drained, event, until
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_worker_claims_again_after_a_redis_outage(
    redis_server: RedisServer, emu: EmulatorThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with AsyncAutumn(secret_key=emu.secret_key, server_url=emu.url) as autumn:
        batcher = autumn.batcher(spool=RedisSpool(redis_server.url, lease=1.0))
        await batcher.__aenter__()
        try:
            redis_server.stop()

            async def noticed() -> bool:  # the claim loop saw the outage (or died of it)
                claimer = batcher._reclaimer
                return (claimer is not None and claimer.done()) or any(
                    "not claimed" in r.getMessage() for r in caplog.records
                )

            await until(noticed, timeout=60)
            redis_server.start()
            probe = RedisSpool(redis_server.url)
            await probe.open(account_of(emu))
            events = [event() for _ in range(10)]
            await probe.put(events)
            try:
                await until(lambda: drained(probe), timeout=20)
            finally:
                await probe.close()
        finally:
            await batcher._hand_back(2.0)
    assert_exactly_once(emu.ledger(), {e.key for e in events})
