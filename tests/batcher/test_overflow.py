"""Bounded queue: each overflow policy, on_drop and its warning, flush and close semantics."""

from __future__ import annotations

import asyncio
import logging

import pytest

from autumn_async import AsyncAutumn, UsageError
from autumn_async._batcher import UsageEvent
from autumn_emulator import Emulator

from .conftest import summary

# A batch never fills and the interval never ends: nothing leaves until flush().
STILL = {"max_queue": 3, "max_batch_size": 100, "flush_interval": 3600.0}


def keys_of(emu: Emulator) -> set[str]:
    """The idempotency keys Autumn applied."""
    return {event["idempotency_key"] for event in emu.ledger()}


async def test_drop_newest_refuses_the_new_event(
    emu: Emulator, autumn: AsyncAutumn, caplog: pytest.LogCaptureFixture
) -> None:
    """``drop_newest`` keeps what is queued, reports the newcomer and logs a warning."""
    drops: list[tuple[UsageEvent, str]] = []
    async with autumn.batcher(
        overflow="drop_newest", on_drop=lambda e, r: drops.append((e, r)), **STILL
    ) as b:
        for i in range(5):
            await b.track(customer_id="c1", feature_id="messages", idempotency_key=f"k{i}")
        assert b.stats.queued == 3
        await b.flush()
        stats = b.stats
    assert [(e.idempotency_key, r) for e, r in drops] == [
        ("k3", "queue_full"),
        ("k4", "queue_full"),
    ]
    assert keys_of(emu) == {"k0", "k1", "k2"}
    # Every accepted track() counts as enqueued, refused ones too: the totals add up.
    assert (stats.enqueued, stats.delivered, stats.dropped) == (5, 3, 2)
    assert any(
        r.levelno == logging.WARNING
        and r.name == "autumn_balances.batcher"
        and "dropped" in r.getMessage()
        for r in caplog.records
    )


async def test_drop_oldest_evicts_the_oldest_event(emu: Emulator, autumn: AsyncAutumn) -> None:
    """``drop_oldest`` makes room by reporting the oldest queued event."""
    drops: list[str] = []
    async with autumn.batcher(
        overflow="drop_oldest", on_drop=lambda e, r: drops.append(e.idempotency_key), **STILL
    ) as b:
        for i in range(5):
            await b.track(customer_id="c1", feature_id="messages", idempotency_key=f"k{i}")
        await b.flush()
        stats = b.stats
    assert drops == ["k0", "k1"]
    assert keys_of(emu) == {"k2", "k3", "k4"}
    assert (stats.enqueued, stats.delivered, stats.dropped, stats.queued) == (5, 3, 2, 0)


async def test_block_waits_for_room_then_enqueues(emu: Emulator, autumn: AsyncAutumn) -> None:
    """``block`` makes ``track`` wait until delivery frees room; nothing is dropped."""
    async with autumn.batcher(overflow="block", **STILL) as b:
        for i in range(3):
            await b.track(customer_id="c1", feature_id="messages", idempotency_key=f"k{i}")
        blocked = asyncio.ensure_future(
            b.track(customer_id="c1", feature_id="messages", idempotency_key="k3")
        )
        await asyncio.sleep(0)
        assert not blocked.done()
        await b.flush()  # delivers the queue, which lets the blocked call in
        await blocked
        await b.flush()
        assert b.stats.dropped == 0
    assert keys_of(emu) == {"k0", "k1", "k2", "k3"}


async def test_block_timeout_drops_with_a_reason(emu: Emulator, autumn: AsyncAutumn) -> None:
    """Past ``block_timeout`` the new event is dropped and reported, not silently lost."""
    drops: list[str] = []
    async with autumn.batcher(
        overflow="block", block_timeout=0.01, on_drop=lambda e, r: drops.append(r), **STILL
    ) as b:
        for i in range(4):
            await b.track(customer_id="c1", feature_id="messages", idempotency_key=f"k{i}")
        assert b.stats.dropped == 1
    assert drops == ["block_timeout"]
    assert keys_of(emu) == {"k0", "k1", "k2"}


async def test_flush_waits_only_for_events_enqueued_before_it(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """After ``flush()`` returns, everything tracked before it is in Autumn's ledger."""
    async with autumn.batcher(flush_interval=3600.0) as b:
        for _ in range(10):
            await b.track(customer_id="c1", feature_id="messages")
        await b.flush()
        assert summary(emu.ledger())[0] == 10
        assert b.stats.delivered == 10
        await b.flush()  # nothing pending: returns at once


async def test_close_delivers_what_is_queued(emu: Emulator, autumn: AsyncAutumn) -> None:
    """Closing drains the queue; tracking afterwards is a usage error."""
    batcher = autumn.batcher(flush_interval=3600.0)
    for _ in range(7):
        await batcher.track(customer_id="c1", feature_id="messages")
    await batcher.aclose()
    await batcher.aclose()
    assert summary(emu.ledger())[0] == 7
    with pytest.raises(UsageError):
        await batcher.track(customer_id="c1", feature_id="messages")


async def test_close_reports_what_it_could_not_deliver(emu: Emulator, autumn: AsyncAutumn) -> None:
    """A stall past ``shutdown_timeout``: never-applied events go to ``on_drop`` (``shutdown``).

    A 429 means Autumn did not act, so these events are truly dropped (a 5xx would make
    their outcome unknown: ``on_error``, never ``on_drop``).
    """
    emu.set_fault("/v1/balances.track", "status", status=429, retry_after=60)
    drops: list[str] = []
    batcher = autumn.batcher(
        mode="track", shutdown_timeout=0.2, on_drop=lambda e, r: drops.append(r)
    )
    for _ in range(3):
        await batcher.track(customer_id="c1", feature_id="messages")
    await batcher.aclose()
    stats = batcher.stats
    assert drops == ["shutdown"] * 3
    assert (stats.dropped, stats.delivered, stats.queued, stats.in_flight) == (3, 0, 0, 0)
    assert stats.retried > 0


async def test_bad_events_and_options_are_usage_errors(autumn: AsyncAutumn) -> None:
    """Validation happens at ``track`` and at construction, before anything is queued."""
    async with autumn.batcher() as b:
        with pytest.raises(UsageError):
            await b.track(customer_id="c1")
        with pytest.raises(UsageError):
            await b.track(customer_id="c1", feature_id="messages", value=float("nan"))
        assert b.stats.enqueued == 0
    for options in (
        {"mode": "bulk"},
        {"overflow": "spill"},
        {"max_queue": 0},
        {"mode": "batch_track", "max_batch_size": 1001},
        {"flush_interval": -1},
        {"on_drop": 3},
        {"max_concurrency": autumn.max_connections + 1},
    ):
        with pytest.raises(UsageError):
            autumn.batcher(**options)
