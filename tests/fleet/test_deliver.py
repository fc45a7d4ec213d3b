"""What the fleet does with each outcome of a batch_track (no Redis needed)."""

from __future__ import annotations

from typing import Any

from autumn_async import (
    APIConnectionError,
    AsyncAutumn,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    OutcomeUnknownError,
    RateLimitError,
)
from autumn_async._fleet._deliver import deliver, send_batch_track
from autumn_emulator import EmulatorThread

from .conftest import event


def failing(error: Exception, *, bad_key: str | None = None) -> Any:
    """A send that raises ``error`` for any batch (holding ``bad_key``, if given)."""
    sent: list[list[Any]] = []

    async def send(bodies: list[Any]) -> None:
        sent.append(bodies)
        if bad_key is None or any(b["idempotency_key"] == bad_key for b in bodies):
            raise error

    send.sent = sent  # type: ignore[attr-defined]
    return send


async def test_refused_event_is_isolated_and_dead_lettered() -> None:
    """A 400 splits the batch until the refused event stands alone; the rest is delivered."""
    events = [event() for _ in range(8)]
    bad = events[5].key
    error = BadRequestError("bad", status_code=400, code="invalid_inputs")
    outcome = await deliver(failing(error, bad_key=bad), events)
    assert outcome.dead == {bad: "rejected:400:invalid_inputs"}
    assert sorted(outcome.delivered) == sorted(e.key for e in events if e.key != bad)


async def test_autumn_5xx_is_outcome_unknown_and_never_resent() -> None:
    """A 500 with Autumn's JSON body dead-letters the batch instead of resending it."""
    events = [event() for _ in range(3)]
    send = failing(InternalServerError("boom", status_code=500, code="internal_error"))
    outcome = await deliver(send, events)
    assert set(outcome.dead.values()) == {"outcome_unknown:500:internal_error"}
    assert len(send.sent) == 1
    unknown = await deliver(failing(OutcomeUnknownError("?", status_code=409)), events)
    assert set(unknown.dead.values()) == {"outcome_unknown"}


async def test_unanswered_rate_limited_and_gateway_batches_are_kept_for_later() -> None:
    """No answer, 429, a bare gateway 503 and a refused key keep the events for a resend."""
    events = [event() for _ in range(2)]
    for error in (
        APIConnectionError("reset", maybe_applied=True),
        RateLimitError("slow down", status_code=429, retry_after=3.0),
        InternalServerError("<html>", status_code=503, code=None),
        AuthenticationError("revoked key", status_code=401, code="unauthorized"),
    ):
        outcome = await deliver(failing(error), events)
        assert outcome.retry == events
        assert outcome.dead == {}
    assert (
        await deliver(failing(RateLimitError("x", status_code=429, retry_after=3.0)), events)
    ).retry_after == 3.0


async def test_duplicate_answer_means_already_applied() -> None:
    """409 duplicate_idempotency_key settles the events as delivered duplicates."""
    events = [event()]
    error = ConflictError("dup", status_code=409, code="duplicate_idempotency_key")
    outcome = await deliver(failing(error), events)
    assert outcome.duplicates == [events[0].key]


async def test_resending_an_applied_batch_counts_nothing_twice(emu: EmulatorThread) -> None:
    """batch_track answers success to a batch of already-applied keys and skips them.

    Follows server/src/internal/balances/track/runBatchTrack.ts: the request only enqueues
    items; the worker claims each item's key, so a duplicate item is skipped, not refused.
    """
    events = [event() for _ in range(5)]
    async with AsyncAutumn(secret_key=emu.secret_key, server_url=emu.url) as client:

        async def send(bodies: list[Any]) -> None:
            await send_batch_track(client, bodies)

        first = await deliver(send, events)
        again = await deliver(send, events)
    assert sorted(first.delivered) == sorted(again.delivered) == sorted(e.key for e in events)
    assert len(emu.ledger()) == 5


async def test_a_batch_kept_for_later_says_why() -> None:
    """A wrong key is resent for ever by design; the worker's only WARNING said "Autumn
    could not take 21 events" with no reason, so an operator could not tell a 401 from an
    outage. The outcome carries the reason the worker logs."""
    events = [event() for _ in range(2)]
    error = AuthenticationError("bad key", status_code=401, code="invalid_request")
    outcome = await deliver(failing(error), events)
    assert outcome.retry == events
    assert "AuthenticationError" in outcome.retry_reason
    assert "401" in outcome.retry_reason
