"""Closing, outcomes and counters: nothing lost silently, drops true, totals that add up."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from autumn_async import AsyncAutumn, OutcomeUnknownError, RateLimitError
from autumn_async._batcher import BatcherStats, UsageEvent
from autumn_emulator import Emulator, EmulatorThread
from autumn_sync import Autumn

from ..conftest import INSTANT_RETRIES
from .conftest import summary


def adds_up(stats: BatcherStats) -> bool:
    """Every enqueued event is accounted for exactly once."""
    return stats.enqueued == (
        stats.delivered
        + stats.failed
        + stats.outcome_unknown
        + stats.dropped
        + stats.spooled
        + stats.queued
        + stats.in_flight
    )


async def test_close_waits_for_a_slow_server_that_makes_progress(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """A limit bounds a stall, not the total: a slow but working server gets everything."""
    emu.set_fault("/v1/balances.batch_track", "latency", latency_ms=150)
    drops: list[str] = []
    batcher = autumn.batcher(
        max_batch_size=10,
        max_concurrency=1,
        max_requests_per_second=5,
        shutdown_timeout=0.4,
        on_drop=lambda e, r: drops.append(r),
    )
    for _ in range(80):
        await batcher.track(customer_id="c1", feature_id="messages")
    await batcher.aclose()  # 8 requests of 150 ms one after another: well over 0.4 s
    assert drops == []
    assert (batcher.stats.delivered, batcher.stats.dropped) == (80, 0)
    assert summary(emu.ledger()) == (80, 80, 80)


async def test_autumn_5xx_in_track_mode_is_outcome_unknown(
    emu: Emulator, autumn: AsyncAutumn, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 (Autumn's JSON error) may have been applied: never resent, never a drop.

    ``on_error`` gets an :class:`OutcomeUnknownError` carrying the event's key.
    """
    emu.set_fault("/v1/balances.track", "status", status=500, count=1)
    errors: list[tuple[UsageEvent, BaseException]] = []
    drops: list[object] = []
    async with autumn.batcher(
        mode="track",
        on_error=lambda e, x: errors.append((e, x)),
        on_drop=lambda e, r: drops.append(r),
    ) as b:
        await b.track(customer_id="c1", feature_id="messages", idempotency_key="maybe")
        await b.flush()
        stats = b.stats
    assert drops == []
    [(event, error)] = errors
    assert event.idempotency_key == "maybe"
    assert isinstance(error, OutcomeUnknownError)
    assert error.idempotency_key == "maybe"  # type: ignore[attr-defined]
    assert "maybe" in str(error)
    assert emu.stats()["/v1/balances.track"] == 1  # not resent
    assert (stats.outcome_unknown, stats.delivered, stats.failed) == (1, 0, 0)
    assert adds_up(stats)
    closing = [r for r in caplog.records if "batcher closed" in r.getMessage()]
    assert len(closing) == 1
    assert closing[0].levelno == logging.WARNING
    assert "1 outcome unknown" in closing[0].getMessage()


async def test_attempt_limit_ends_a_retry_storm_in_on_error(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """429 with ``Retry-After: 0`` forever: ``max_attempts`` requests, then ``on_error``."""
    emu.set_fault("/v1/balances.track", "status", status=429, retry_after=0)
    errors: list[BaseException] = []
    async with autumn.batcher(
        mode="track", max_attempts=4, on_error=lambda e, x: errors.append(x)
    ) as b:
        await b.track(customer_id="c1", feature_id="messages")
        await b.flush()
        stats = b.stats
    assert len(errors) == 1
    assert isinstance(errors[0], RateLimitError)  # never applied: failed, not unknown
    assert emu.stats()["/v1/balances.track"] == 4
    assert (stats.failed, stats.outcome_unknown, stats.retried) == (1, 0, 3)
    assert adds_up(stats)


async def test_timeouts_until_out_of_attempts_are_outcome_unknown(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """Attempts that may have been applied and never answered: outcome unknown, not failed."""
    emu.set_fault("/v1/balances.track", "drop_after")
    errors: list[BaseException] = []
    async with autumn.batcher(
        mode="track", max_attempts=2, timeout=0.5, on_error=lambda e, x: errors.append(x)
    ) as b:
        await b.track(customer_id="c1", feature_id="messages", idempotency_key="lost")
        await b.flush()
        stats = b.stats
    assert [type(x) for x in errors] == [OutcomeUnknownError]
    assert (stats.outcome_unknown, stats.failed) == (1, 0)
    assert summary(emu.ledger()) == (1, 1, 1)  # it was applied, once


async def test_stall_drops_only_what_was_never_applied(emu: Emulator, autumn: AsyncAutumn) -> None:
    """At a stalled close every ``on_drop`` event is absent from the ledger; totals add up."""
    emu.set_fault("/v1/balances.track", "drop_after", count=3)  # applied, answers lost
    drops: list[UsageEvent] = []
    errors: list[tuple[UsageEvent, BaseException]] = []
    batcher = autumn.batcher(
        mode="track",
        max_concurrency=1,
        timeout=0.5,
        shutdown_timeout=0.2,
        on_drop=lambda e, r: drops.append(e),
        on_error=lambda e, x: errors.append((e, x)),
    )
    for i in range(3):
        await batcher.track(customer_id="c1", feature_id="messages", idempotency_key=f"a{i}")
    await asyncio.sleep(0)
    emu.set_fault("/v1/balances.track", "status", status=429, retry_after=60)
    for i in range(5):
        await batcher.track(customer_id="c1", feature_id="messages", idempotency_key=f"n{i}")
    await batcher.aclose()
    stats = batcher.stats
    in_ledger = {e["idempotency_key"] for e in emu.ledger()}
    assert drops  # the 429ed ones
    assert not {e.idempotency_key for e in drops} & in_ledger
    for event, error in errors:
        assert isinstance(error, OutcomeUnknownError)
        assert event.idempotency_key == error.idempotency_key  # type: ignore[attr-defined]
    assert adds_up(stats)
    assert stats.queued == stats.in_flight == 0
    assert stats.enqueued == 8


def test_batcher_closed_on_another_loop_delivers_everything(emu_thread: EmulatorThread) -> None:
    """Tracked in one ``asyncio.run``, closed in another: every event is delivered."""
    client = AsyncAutumn(
        secret_key=emu_thread.secret_key, server_url=emu_thread.url, retry_config=INSTANT_RETRIES
    )
    batcher = client.batcher(flush_interval=3600.0)

    async def produce() -> None:
        for _ in range(25):
            await batcher.track(customer_id="c1", feature_id="messages")

    async def close() -> None:
        await batcher.aclose()
        await client.aclose()

    asyncio.run(produce())
    asyncio.run(close())
    assert (batcher.stats.delivered, batcher.stats.dropped) == (25, 0)
    assert summary(emu_thread.ledger()) == (25, 25, 25)


async def test_closing_the_client_first_delivers_its_open_batcher(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """``async with AsyncAutumn(...)`` left with a batcher still open loses nothing.

    Closing the client closed its pools under the batcher: every queued event failed
    unsent with "this client is closed". The client now closes its batchers first.
    """
    errors: list[BaseException] = []
    batcher = autumn.batcher(flush_interval=3600.0, on_error=lambda e, exc: errors.append(exc))
    for _ in range(30):
        await batcher.track(customer_id="c1", feature_id="messages")
    await autumn.aclose()
    assert batcher.closed and errors == []
    assert (batcher.stats.delivered, batcher.stats.failed) == (30, 0)
    assert summary(emu.ledger()) == (30, 30, 30)


def test_closing_the_sync_client_first_delivers_its_open_batcher(
    emu_thread: EmulatorThread,
) -> None:
    """The same with ``with Autumn(...)``: its batchers live on the shared loop."""
    with Autumn(
        secret_key=emu_thread.secret_key, server_url=emu_thread.url, retry_config=INSTANT_RETRIES
    ) as autumn:
        batcher = autumn.batcher(flush_interval=3600.0)
        for _ in range(30):
            batcher.track(customer_id="c1", feature_id="messages")
    assert batcher.closed
    assert (batcher.stats.delivered, batcher.stats.failed) == (30, 0)
    assert summary(emu_thread.ledger()) == (30, 30, 30)


def test_batcher_closed_from_a_loop_in_another_thread(emu_thread: EmulatorThread) -> None:
    """Closed from another thread's loop while its own loop runs: its loop delivers."""
    client = AsyncAutumn(
        secret_key=emu_thread.secret_key, server_url=emu_thread.url, retry_config=INSTANT_RETRIES
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        batcher = client.batcher(flush_interval=3600.0)

        async def produce() -> None:
            for _ in range(10):
                await batcher.track(customer_id="c1", feature_id="messages")

        asyncio.run_coroutine_threadsafe(produce(), loop).result(30)
        asyncio.run(batcher.aclose())
        assert batcher.stats.delivered == 10
    finally:
        asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
    assert summary(emu_thread.ledger()) == (10, 10, 10)


@pytest.mark.parametrize("typo", [{"flush_intervall": 1.0}, {"max_batchsize": 10}])
def test_option_typos_are_type_errors(typo: dict[str, Any]) -> None:
    """``batcher(...)`` has a real signature on both clients: a misspelt option is refused."""
    client = AsyncAutumn(secret_key="am_sk_test", server_url="http://127.0.0.1:9")
    with pytest.raises(TypeError):
        client.batcher(**typo)
    with (
        Autumn(secret_key="am_sk_test", server_url="http://127.0.0.1:9") as sync,
        pytest.raises(TypeError),
    ):
        sync.batcher(**typo)


def test_sync_batcher_documents_itself() -> None:
    """The sync batcher's docstrings describe the sync API, not ``async with``."""
    from autumn_sync import UsageBatcher

    for name in ("__doc__", "track", "flush", "close"):
        doc = UsageBatcher.__doc__ if name == "__doc__" else getattr(UsageBatcher, name).__doc__
        assert doc
        assert "async with" not in doc
        assert "await" not in doc


async def test_drop_warnings_are_rate_limited_and_close_states_totals(
    emu: Emulator, autumn: AsyncAutumn, caplog: pytest.LogCaptureFixture
) -> None:
    """200 drops make one rate-limited WARNING, and close one more with the true totals."""
    caplog.set_level(logging.WARNING, logger="autumn_balances")
    async with autumn.batcher(max_queue=1, overflow="drop_newest", flush_interval=3600.0) as b:
        for _ in range(201):
            await b.track(customer_id="c1", feature_id="messages")
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("autumn_balances")]
    assert len(warnings) == 2
    assert "dropped (queue_full)" in warnings[0]
    assert "201 enqueued, 1 delivered" in warnings[1]
    assert "200 dropped" in warnings[1]
    assert adds_up(b.stats)


# -- a closed client -----------------------------------------------------------------------


def test_a_batcher_of_a_closed_client_is_refused(emu_thread: EmulatorThread) -> None:
    """It was built, then every event failed for good one by one with the client's
    UsageError: refuse it up front, like any other call on a closed client."""
    from autumn_async import UsageError

    autumn = Autumn(secret_key=emu_thread.secret_key, server_url=emu_thread.url)
    autumn.close()
    with pytest.raises(UsageError, match="closed"):
        autumn.batcher()


def test_closing_the_client_first_keeps_spooled_events_for_the_next_run(
    emu_thread: EmulatorThread, tmp_path: Any
) -> None:
    """Closing the client before its batcher made every pending event fail for good with
    ``UsageError('this client is closed')`` and settled it out of the spool: events that
    were durable, never sent, and deliverable by the next batcher on the file, lost."""
    path = tmp_path / "usage.db"
    autumn = Autumn(secret_key=emu_thread.secret_key, server_url=emu_thread.url)
    batcher = autumn.batcher(spool_path=path, flush_interval=30)
    for _ in range(5):
        batcher.track(customer_id="c1", feature_id="messages", value=1)
    autumn.close()
    batcher.close()
    assert batcher.stats.failed == 0
    with Autumn(secret_key=emu_thread.secret_key, server_url=emu_thread.url) as again:
        again.batcher(spool_path=path).close()
    assert summary(emu_thread.ledger())[0] == 5
