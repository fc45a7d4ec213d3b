"""Delivery: exactly once through faults in both modes, coalescing, refusals, duplicates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from autumn_async import AsyncAutumn, BadRequestError, NotFoundError
from autumn_async._batcher import UsageEvent
from autumn_emulator import Emulator

from .conftest import GRANT, add_faults, summary

N = 10_000


@contextmanager
def fast_loop() -> Iterator[None]:
    """Switch asyncio debug mode off for one volume test.

    Debug mode records a traceback for every future and callback, which makes 10,000
    loopback HTTP requests about eight times slower; every other test keeps it on and
    runs the same code paths.
    """
    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(False)
    try:
        yield
    finally:
        loop.set_debug(debug)


def value_of(i: int) -> int:
    """Varied amounts, so the summed usage checks more than the count."""
    return i % 7 + 1


EXPECTED_SUM = sum(value_of(i) for i in range(N))


@pytest.mark.parametrize(
    ("mode", "options"),
    [
        # timeout: a 409 for a key whose answer was lost is trusted one attempt timeout
        # after that attempt started (it may still be running): keep that window short.
        ("track", {"max_concurrency": 16, "max_batch_size": 200, "timeout": 1.0}),
        # No request pacing: this is about faults, not Autumn's per-organisation limit.
        (
            "batch_track",
            {"max_concurrency": 4, "max_batch_size": 500, "max_requests_per_second": None},
        ),
    ],
)
async def test_ten_thousand_events_through_faults_count_exactly_once(
    emu: Emulator, autumn: AsyncAutumn, mode: str, options: dict[str, Any]
) -> None:
    """10,000 events through 30 % faults land exactly once each, with the exact total."""
    route = f"/v1/balances.{mode}"
    add_faults(emu, route)
    with fast_loop():
        async with autumn.batcher(mode=mode, flush_interval=0.01, **options) as batcher:
            for i in range(N):
                await batcher.track(customer_id="c1", feature_id="messages", value=value_of(i))
            await batcher.flush()
            stats = batcher.stats
    assert summary(emu.ledger()) == (N, N, EXPECTED_SUM)
    assert emu.balances("c1")["messages"]["usage"] == EXPECTED_SUM
    assert (stats.delivered, stats.failed, stats.dropped, stats.queued) == (N, 0, 0, 0)
    assert emu.stats()[route] > (N if mode == "track" else N // 500)  # faults did fire


async def test_batcher_level_retry_resends_under_the_same_keys(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """When the client's retries run out, the batcher keeps the events and resends them."""
    # Applied, then the answer lost, more times than the client retries: only the
    # batcher's resend (a 409 for our own key) can settle these.
    emu.set_fault("/v1/balances.track", "drop_after", count=12)
    async with autumn.batcher(mode="track", flush_interval=0.01, timeout=1.0) as batcher:
        for _ in range(2):
            await batcher.track(customer_id="c1", feature_id="messages", value=5)
        await batcher.flush()
        stats = batcher.stats
    assert summary(emu.ledger()) == (2, 2, 10)
    assert stats.retried >= 1
    assert (stats.delivered, stats.failed) == (2, 0)


async def test_coalescing_sums_counter_events_into_few_requests(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """10,000 ``+1`` events on one key reach Autumn in far fewer requests, exactly summed."""
    add_faults(emu, "/v1/balances.track")
    async with autumn.batcher(
        mode="track", coalesce=True, max_batch_size=1000, flush_interval=0.01, timeout=1.0
    ) as b:
        for _ in range(N):
            await b.track(customer_id="c1", feature_id="messages")
        await b.flush()
        stats = b.stats
    events, keys, total = summary(emu.ledger())
    assert total == N == stats.delivered
    assert events == keys <= N // 500
    assert emu.stats()["/v1/balances.track"] < 100


async def test_coalescing_keeps_distinct_and_non_plain_events_apart(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """Different entities, signs, properties and caller keys are never merged."""
    async with autumn.batcher(coalesce=True, mode="batch_track") as b:
        for _ in range(3):
            await b.track(customer_id="c1", feature_id="messages", value=2)
            await b.track(customer_id="c1", feature_id="messages", entity_id="seat_1")
            await b.track(customer_id="c1", feature_id="messages", value=-1)
            await b.track(customer_id="c1", feature_id="messages", properties={"m": "x"})
        await b.track(customer_id="c1", feature_id="messages", idempotency_key="mine-1")
        await b.track(customer_id="c1", feature_id="messages", idempotency_key="mine-2")
        await b.flush()
    ledger = emu.ledger()
    merged = sorted((e["entity_id"] or "", e["value"], bool(e["properties"])) for e in ledger)
    assert merged.count(("", 6, False)) == 1
    assert merged.count(("seat_1", 3, False)) == 1
    assert merged.count(("", -3, False)) == 1
    assert merged.count(("", 1, True)) == 3
    assert {e["idempotency_key"] for e in ledger} >= {"mine-1", "mine-2"}
    assert summary(ledger)[2] == 6 + 3 - 3 + 3 + 2


async def test_batch_track_drops_an_unknown_customer_out_of_sight(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """batch_track accepts an unknown customer's event and the server drops it later.

    ``server/src/internal/balances/track/runBatchTrack.ts`` checks only features up front
    and ``server/src/queue/processMessage.ts`` drops the event without retry: the batcher
    sees success, so customers must exist before their usage is batched (spec §17.7).
    """
    errors: list[object] = []
    async with autumn.batcher(mode="batch_track", on_error=lambda e, x: errors.append(x)) as b:
        for i in range(9):
            await b.track(customer_id="c1", feature_id="messages", value=i + 1)
        await b.track(customer_id="nobody", feature_id="messages", idempotency_key="bad")
        await b.flush()
        stats = b.stats
    assert (errors, stats.delivered, stats.failed) == ([], 10, 0)
    assert summary(emu.ledger()) == (9, 9, 45)
    assert [(e["idempotency_key"], e["code"]) for e in emu.dropped()] == [
        ("bad", "customer_not_found")
    ]


@pytest.mark.parametrize(
    ("mode", "bad"),
    [
        ("track", {"customer_id": "nobody", "feature_id": "messages"}),
        # batch_track refuses only unknown features up front (runBatchTrack.ts).
        ("batch_track", {"customer_id": "c1", "feature_id": "nope"}),
    ],
)
async def test_permanent_refusal_goes_to_on_error_once(
    emu: Emulator,
    autumn: AsyncAutumn,
    mode: str,
    bad: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 4xx is final: ``on_error`` gets the event, the others in its batch get through."""
    errors: list[tuple[UsageEvent, BaseException]] = []
    async with autumn.batcher(mode=mode, on_error=lambda e, x: errors.append((e, x))) as b:
        for i in range(9):
            await b.track(customer_id="c1", feature_id="messages", value=i + 1)
        await b.track(**bad, idempotency_key="bad")
        await b.flush()
        stats = b.stats
    assert [(e.idempotency_key, e.count) for e, _ in errors] == [("bad", 1)]
    assert isinstance(errors[0][1], (NotFoundError, BadRequestError))
    assert {k: errors[0][0].body[k] for k in bad} == bad
    assert (stats.delivered, stats.failed, stats.retried) == (9, 1, 0)
    assert summary(emu.ledger()) == (9, 9, 45)
    assert any(r.levelno == logging.WARNING and "bad" in r.getMessage() for r in caplog.records)


async def test_duplicate_key_of_an_applied_event_counts_as_delivered(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """A 409 duplicate for the event's own key means it was applied: delivered, not failed."""
    await autumn.balances.track(customer_id="c1", feature_id="messages", idempotency_key="k1")
    errors: list[object] = []
    async with autumn.batcher(mode="track", on_error=lambda e, x: errors.append(x)) as b:
        await b.track(customer_id="c1", feature_id="messages", idempotency_key="k1")
        await b.flush()
        assert (b.stats.delivered, b.stats.failed) == (1, 0)
    assert errors == []
    assert summary(emu.ledger()) == (1, 1, 1)
    assert emu.balances("c1")["messages"]["remaining"] == GRANT - 1


async def test_event_name_and_entity_events_are_delivered(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """Events by event name and by entity arrive as tracked."""
    async with autumn.batcher(mode="batch_track") as b:
        await b.track(customer_id="c1", event_name="message_sent", value=4)
        await b.track(customer_id="c1", feature_id="messages", entity_id="seat_1", value=2)
    ledger = emu.ledger()
    assert sorted((e["entity_id"] or "", e["value"]) for e in ledger) == [("", 4), ("seat_1", 2)]
