"""The 'duplicates' counter (issue 15 item 5; `status --json` counters, the batcher's
`stats`) counts events Autumn reported as already applied: a 409
`duplicate_idempotency_key` in `track` mode (`batch_track`'s answer does not tell)."""

from __future__ import annotations

import json

import pytest

from autumn_async import AsyncAutumn
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_emulator import EmulatorThread

from .conftest import account_of, drained, event, until
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_already_applied_event_counts_as_duplicate(
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
            # The 409 is trusted once an attempt's timeout has passed since it was sent.
            batcher = autumn.batcher(
                mode="track", timeout=1.0, spool=RedisSpool(redis_server.url, lease=1.0)
            )
            await batcher.__aenter__()
            try:
                await until(lambda: drained(probe), timeout=20)
                assert batcher.stats.duplicates == 1
                assert batcher.stats.spool["duplicates"] == 1
            finally:
                await batcher._hand_back(2.0)
        assert [e["idempotency_key"] for e in emu.ledger()] == [spooled.key]
        status = await probe.status()
        assert status["dead_letters"] == 0
        assert status["counters"]["duplicates"] == 1
    finally:
        await probe.close()
