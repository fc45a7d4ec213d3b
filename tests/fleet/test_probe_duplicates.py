"""Probe (issue 15 review): the 'duplicates' counter (issue 15 item 5; `status --json`
counters) must count events Autumn reported as already applied."""

from __future__ import annotations

import json

import pytest

from autumn_async import AsyncAutumn
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_emulator import EmulatorThread

from .conftest import account_of, drained, event, until
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


@pytest.mark.xfail(
    strict=True,
    reason="the batcher never passes duplicates= to RedisSpool.settle, so the fleet's "
    "'duplicates' counter stays 0 even when Autumn answers that an event was already applied",
)
async def test_probe_already_applied_event_counts_as_duplicate(
    redis_server: RedisServer, emu: EmulatorThread
) -> None:
    probe = RedisSpool(redis_server.url)
    await probe.open(account_of(emu))
    spooled = event()
    await probe.put([spooled])
    try:
        async with AsyncAutumn(secret_key=emu.secret_key, server_url=emu.url) as autumn:
            body = json.loads(spooled.body)  # applied once already (a resend's first send)
            await autumn.balances.track(**body)
            batcher = autumn.batcher(spool=RedisSpool(redis_server.url, lease=1.0))
            await batcher.__aenter__()
            try:
                await until(lambda: drained(probe), timeout=20)
            finally:
                await batcher._hand_back(2.0)
        assert [e["idempotency_key"] for e in emu.ledger()] == [spooled.key]
        status = await probe.status()
        assert status["dead_letters"] == 0
        assert status["counters"]["duplicates"] == 1
    finally:
        await probe.close()
