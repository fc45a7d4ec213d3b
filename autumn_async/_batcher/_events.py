"""The batcher's values: queued events, what callbacks receive, counters, and coalescing.

Pure and I/O-free. An event's idempotency key is fixed when it is enqueued and travels
with it into every resend; a coalesced event gets one new key for the sum, fixed once
and never split again, so a resend of the sum cannot double-count either.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from autumn_async._public import publish

__all__ = ["BatcherStats", "QueuedEvent", "UsageEvent", "coalesce"]


class QueuedEvent:
    """One event held by the batcher (or several, summed by coalescing).

    ``epoch`` is the flush generation it was enqueued in; ``members`` are the events a
    coalesced one stands for (``None`` for a plain event); ``attempts`` counts failed
    deliveries, which drives the batcher-level backoff.
    """

    __slots__ = (
        "attempts",
        "body",
        "coalescable",
        "epoch",
        "key",
        "maybe_applied_at",
        "members",
        "retry",
    )

    def __init__(self, key: str, body: dict[str, Any], epoch: int, *, coalescable: bool) -> None:
        self.key = key
        self.body = body
        self.epoch = epoch
        self.attempts = 0
        self.coalescable = coalescable
        self.members: tuple[QueuedEvent, ...] | None = None
        #: The retry bookkeeping of this event's failed deliveries (``_retry.RetryState``).
        self.retry: Any = None
        #: When the earliest attempt that may have been applied started (monotonic).
        self.maybe_applied_at: float | None = None

    @property
    def count(self) -> int:
        """How many tracked events this one stands for."""
        return 1 if self.members is None else len(self.members)

    def leaves(self) -> Iterable[QueuedEvent]:
        """The tracked events themselves (for counters and flush bookkeeping)."""
        return (self,) if self.members is None else self.members

    def public(self) -> UsageEvent:
        """The read-only view handed to ``on_error`` and ``on_drop``."""
        return UsageEvent(idempotency_key=self.key, body=dict(self.body), count=self.count)


@attrs.frozen(kw_only=True)
class UsageEvent:
    """An event as the batcher's callbacks see it.

    ``body`` is the ``balances.track`` request body (with its ``idempotency_key``);
    ``count`` is how many ``track`` calls it stands for (more than 1 when coalesced).
    """

    idempotency_key: str
    body: dict[str, Any]
    count: int = 1


@attrs.frozen(kw_only=True)
class BatcherStats:
    """A snapshot of a batcher's counters, in tracked events.

    ``enqueued`` counts every accepted ``track`` plus events recovered from the spool
    (``recovered``); each ends up ``delivered``, ``failed`` (refused for good, or out of
    attempts without ever reaching Autumn: passed to ``on_error``), ``outcome_unknown``
    (may have been applied, cannot be known: passed to ``on_error`` with an
    :class:`OutcomeUnknownError` carrying its key), ``dropped`` (never applied: passed to
    ``on_drop``) or ``spooled`` (left in the spool for the next run, at close), or is
    still ``queued`` (waiting, including retries waiting for their backoff) or
    ``in_flight``. So ``enqueued == delivered + failed + outcome_unknown + dropped +
    spooled + queued + in_flight`` at any moment. ``retried`` counts resends after a
    failed delivery. A new event refused by a full queue counts in ``dropped`` and in
    ``enqueued``. ``duplicates`` counts the delivered events Autumn answered were
    already applied (a 409 ``duplicate_idempotency_key`` in ``track`` mode: a resend of
    an applied event; ``batch_track``'s answer does not tell). ``spool`` holds the
    spool's own counters, for a fleet's ``RedisSpool``: ``enqueued``,
    ``enqueue_failed:<reason>``, ``delivered``, ``duplicates``,
    ``dead_lettered:<kind>`` and ``reclaimed`` (this process's share; the fleet-wide
    figures, backlog, lag and oldest pending age are in ``python -m autumn_async.fleet
    status``).
    """

    enqueued: int = 0
    delivered: int = 0
    failed: int = 0
    outcome_unknown: int = 0
    dropped: int = 0
    spooled: int = 0
    retried: int = 0
    queued: int = 0
    in_flight: int = 0
    recovered: int = 0
    duplicates: int = 0
    spool: Mapping[str, int] = attrs.field(factory=dict)


def is_coalescable(body: dict[str, Any], *, caller_key: bool) -> bool:
    """Plain counter events only: no properties, and a key the batcher made itself.

    A caller's own key is a promise about that one event, so it is never merged away.
    """
    return not caller_key and "properties" not in body


def _group(body: dict[str, Any]) -> tuple[Any, ...]:
    value = body.get("value", 1)
    # Signs are kept apart: usage is capped at the balance and refunds at the grant, so
    # +1 then -1 is not always the same as 0 once a cap is reached.
    return (
        body["customer_id"],
        body.get("feature_id"),
        body.get("event_name"),
        body.get("entity_id"),
        value < 0,
    )


def coalesce(events: list[QueuedEvent]) -> list[QueuedEvent]:
    """Sum coalescable events of the same group; others pass through in order.

    A group of one keeps its event unchanged; a larger group becomes one new event with
    a fresh key whose value is the sum, remembering the events it replaces.
    """
    groups: dict[tuple[Any, ...], list[QueuedEvent]] = {}
    out: list[QueuedEvent] = []
    for event in events:
        if not event.coalescable or event.members is not None:
            out.append(event)
            continue
        groups.setdefault(_group(event.body), []).append(event)
    for members in groups.values():
        if len(members) == 1:
            out.append(members[0])
            continue
        total = sum(m.body.get("value", 1) for m in members)
        key = str(uuid.uuid4())
        body = {k: v for k, v in members[0].body.items() if k != "value"}
        body["value"] = total
        body["idempotency_key"] = key
        merged = QueuedEvent(key, body, members[0].epoch, coalescable=False)
        merged.members = tuple(members)
        out.append(merged)
    return out


publish(globals(), ("BatcherStats", "UsageEvent"))
