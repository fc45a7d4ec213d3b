"""A fleet worker whose secret key Autumn refuses never dead-letters or loses an event.

At start the worker checks its key with one authenticated ``GET /v1/features`` (server:
``internal/features/featureRouter.ts``, ``handlers/handleListFeatures.ts``; any valid
secret key may list its features) and exits 3 before claiming anything. A 401/403 while
delivering (a revoked key, an organisation blocked by ``requestBlockMiddleware.ts``) hands
the events back to the stream and stops the worker with exit 3. Real processes against the
emulator and a real redis-server; the ledger shows every event once after a good worker.
"""

from __future__ import annotations

import asyncio

import pytest

from autumn_emulator import EmulatorThread

from .conftest import (
    Workers,
    account_of,
    assert_exactly_once,
    delivered_by_a_worker,
    hand_over,
    opened,
)
from .redis_server import RedisServer

pytestmark = pytest.mark.slow
ROUTE = "/v1/balances.batch_track"
WRONG_KEY = "am_sk_test_0123456789abcdefWRONG"


async def test_wrong_key_exits_at_start_and_claims_nothing(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    spool = await opened(redis_server.url, account_of(emu))
    events = await hand_over(spool, 200)
    worker = workers.start(key=WRONG_KEY)
    assert await asyncio.to_thread(worker.wait, 60) == 3
    output = workers.output(worker)
    assert "refused the secret key (401 invalid_secret_key) at start" in output
    assert "AUTUMN_SECRET_KEY" in output
    assert WRONG_KEY not in output
    assert WRONG_KEY[-8:] not in output  # not even the server's masked echo of it
    status = await spool.status()
    assert (status["pending"], status["claimed_entries"], status["dead_letters"]) == (200, 0, 0)
    assert status["consumers"] == []  # never read the stream
    assert emu.ledger() == []
    await spool.close()
    assert await delivered_by_a_worker(workers, account_of(emu)) == 200
    assert_exactly_once(emu.ledger(), {e.key for e in events})


@pytest.mark.parametrize("status", [401, 403])
async def test_key_refused_while_delivering_hands_events_back(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers, status: int
) -> None:
    emu.set_fault(ROUTE, "status", status=status)  # the key passes at start, then is refused
    spool = await opened(redis_server.url, account_of(emu))
    events = await hand_over(spool, 300)
    worker = workers.start(lease=600)  # a long lease: only a hand-back lets a peer in
    assert await asyncio.to_thread(worker.wait, 60) == 3
    output = workers.output(worker)
    assert f"refused the secret key ({status} " in output
    assert "handed back to Redis, none dead-lettered" in output
    assert emu.secret_key not in output
    status_now = await spool.status()
    assert (status_now["pending"], status_now["dead_letters"]) == (300, 0)
    assert emu.ledger() == []
    emu.clear_faults()  # the key works again
    await spool.close()
    assert await delivered_by_a_worker(workers, account_of(emu)) == 300
    assert_exactly_once(emu.ledger(), {e.key for e in events})
