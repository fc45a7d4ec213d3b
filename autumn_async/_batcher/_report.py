"""Where every event ends: counters, the spool, the callbacks and rate-limited warnings.

Each tracked event is settled exactly once, as ``delivered``, ``failed``,
``outcome_unknown``, ``dropped`` or ``spooled`` (left in the spool at close); this module
is the only place that does it, so the counters add up to what was enqueued.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from autumn_async._errors import OutcomeUnknownError
from autumn_async._log import sdk_logger

from ._events import QueuedEvent, UsageEvent
from ._queue import EventQueue
from ._spool import Spool

__all__ = ["OnDrop", "OnError", "Reporter", "outcome_unknown_error"]

logger = sdk_logger("batcher")

OnError = Callable[[UsageEvent, BaseException], object]
OnDrop = Callable[[UsageEvent, str], object]

#: At most one WARNING per kind of trouble in this many seconds (with the count since).
WARN_EVERY = 5.0


def dead_reason(error: BaseException) -> str:
    """Why an event failed for good, as a spool keeps it: ``rejected:<status>:<code>`` for
    Autumn's refusal, else ``failed:<error type>: <message>``."""
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return f"rejected:{status}:{getattr(error, 'code', None) or ''}"
    return f"failed:{type(error).__name__}: {error}"


def outcome_unknown_error(key: str, cause: BaseException) -> OutcomeUnknownError:
    """The error ``on_error`` gets for an event that may or may not have been applied."""
    error = OutcomeUnknownError(
        f"usage event {key!r} may have been applied, and its outcome cannot be known "
        f"({type(cause).__name__}: {cause}); to be sure, resend it under the same "
        "idempotency_key within 24 hours (never under a new one)",
        status_code=int(getattr(cause, "status_code", 0) or 0),
        code="outcome_unknown",
    )
    error.idempotency_key = key
    error.maybe_applied = True
    error.__cause__ = cause
    return error


class Reporter:
    """Settles events: counters, spool removal, ``on_error``/``on_drop``, warnings."""

    def __init__(
        self,
        queue: EventQueue,
        spool: Spool | None,
        on_error: OnError | None,
        on_drop: OnDrop | None,
        epoch_done: Callable[[], None],
    ) -> None:
        self.queue = queue
        self.spool = spool
        self._on_error, self._on_drop = on_error, on_drop
        self._epoch_done = epoch_done
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None
        self._spool_tasks: set[asyncio.Task[None]] = set()
        self._unlogged: dict[str, int] = {}
        self._logged_at: dict[str, float] = {}

    # -- outcomes ----------------------------------------------------------------------

    def delivered(self, events: Iterable[QueuedEvent], *, duplicate: bool = False) -> None:
        """Events Autumn accepted, or (``duplicate``) answered were already applied."""
        events = list(events)
        if duplicate:
            self.queue.count_duplicates(sum(event.count for event in events))
        self._settle(events, "delivered", duplicate=duplicate)

    def failed(self, events: Iterable[QueuedEvent], error: BaseException) -> None:
        """Events Autumn refused for good, or that never reached it within the attempts."""
        events = list(events)
        reason = dead_reason(error)
        self._settle(events, "failed", dead=dict.fromkeys((e.key for e in events), reason))
        self._warn("failed", events, f"failed for good ({type(error).__name__}: {error})")
        for event in events:
            self._call(self._on_error, "on_error", event.public(), error)

    def unknown(self, events: Iterable[QueuedEvent], cause: BaseException) -> None:
        """Events that may have been applied: ``on_error`` with an outcome-unknown error."""
        events = list(events)
        reason = f"outcome_unknown: {cause}"
        self._settle(events, "outcome_unknown", dead=dict.fromkeys((e.key for e in events), reason))
        self._warn("outcome_unknown", events, f"outcome unknown ({type(cause).__name__})")
        for event in events:
            self._call(
                self._on_error, "on_error", event.public(), outcome_unknown_error(event.key, cause)
            )

    def dropped(self, event: QueuedEvent, reason: str, *, how: str = "flight") -> None:
        """An event that was never applied and will not be sent.

        ``how``: ``"flight"`` (taken by the dispatcher), ``"held"`` (still queued),
        ``"evicted"`` (pushed out by ``drop_oldest``) or ``"rejected"`` (a new event
        refused by a full queue, never enqueued).
        """
        queue = self.queue
        if how == "rejected":
            queue.count_rejected()
        elif how == "evicted":
            if queue.settle_evicted(event):
                self._epoch_done_anywhere()
            self._settle_spool([event.key], None)
        else:
            if queue.settle(event, "dropped", from_flight=how == "flight"):
                self._epoch_done_anywhere()
            self._settle_spool([event.key], None)
        self._warn("dropped", [event], f"dropped ({reason})")
        self._call(self._on_drop, "on_drop", event.public(), reason)

    def spooled(self, events: Iterable[QueuedEvent]) -> None:
        """Events left in the spool at close (for the next batcher on the file)."""
        events = list(events)
        completed = False
        for event in events:
            completed |= self.queue.settle(event, "spooled")
        if completed:
            self._epoch_done_anywhere()

    def _settle(
        self,
        events: list[QueuedEvent],
        outcome: str,
        *,
        dead: dict[str, str] | None = None,
        duplicate: bool = False,
    ) -> None:
        completed = False
        for event in events:
            completed |= self.queue.settle(event, outcome)
        keys = [leaf.key for event in events for leaf in event.leaves()]
        self._settle_spool(keys, dead, duplicate)
        if completed:
            self._epoch_done_anywhere()

    # -- the spool ---------------------------------------------------------------------

    def _settle_spool(
        self, keys: list[str], dead: dict[str, str] | None, duplicate: bool = False
    ) -> None:
        spool, loop = self.spool, self.loop
        if spool is None or not keys or loop is None:
            return
        if threading.get_ident() == self.loop_thread:
            self._start_settle(spool, keys, dead, duplicate)
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the run resends it
                loop.call_soon_threadsafe(self._start_settle, spool, keys, dead, duplicate)

    def _start_settle(
        self, spool: Spool, keys: list[str], dead: dict[str, str] | None, duplicate: bool
    ) -> None:
        assert self.loop is not None
        if duplicate and getattr(spool, "shared_stream", False) is True:
            # A fleet's spool counts duplicates for its operators (``status``).
            stream: Any = spool
            settling = stream.settle(keys, dead=dead, duplicates=keys)
        else:
            settling = spool.settle(keys, dead=dead)
        task = self.loop.create_task(settling)
        self._spool_tasks.add(task)
        task.add_done_callback(self._settle_done)

    def _settle_done(self, task: asyncio.Task[None]) -> None:
        self._spool_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Still in the spool: the next run resends it under its key (a duplicate).
            logger.warning(
                "usage batcher: removing settled events from the spool failed: %s", task.exception()
            )

    async def spool_settled(self) -> None:
        """Wait until every removal handed to the spool so far is done."""
        while self._spool_tasks:
            await asyncio.gather(*self._spool_tasks, return_exceptions=True)

    # -- callbacks and warnings --------------------------------------------------------

    def _epoch_done_anywhere(self) -> None:
        loop = self.loop
        if loop is None:
            return
        if threading.get_ident() == self.loop_thread:
            self._epoch_done()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._epoch_done)

    def _call(self, callback: Callable[..., object] | None, name: str, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.warning("the batcher's %s callback failed", name, exc_info=True)

    def _warn(self, kind: str, events: list[QueuedEvent], what: str) -> None:
        # One warning per kind every few seconds, with the count: a storm of failures must
        # not turn into a logging storm.
        count = sum(event.count for event in events)
        self._unlogged[kind] = self._unlogged.get(kind, 0) + count
        now = time.monotonic()
        if now - self._logged_at.get(kind, -WARN_EVERY) >= WARN_EVERY:
            if not events:  # trouble with no event attached (the spool is unreachable)
                logger.warning("usage batcher: %s", what)
            else:
                last = events[-1]
                logger.warning(
                    "usage batcher: %d event(s) %s; last: customer %r, key %r (totals at close)",
                    self._unlogged[kind],
                    what,
                    last.body.get("customer_id"),
                    last.key,
                )
            self._unlogged[kind], self._logged_at[kind] = 0, now

    def totals_at_close(self, *, handed_back: bool = False) -> None:
        """One WARNING with the true totals, when anything was not delivered.

        ``handed_back``: a fleet worker's stop, where events left in the shared stream
        are handed to its peers (the normal end of a worker, not a failure): INFO then.
        """
        stats = self.queue.stats()
        trouble = stats.failed or stats.outcome_unknown or stats.dropped
        if handed_back and stats.spooled and not trouble:
            logger.info(
                "usage batcher closed: %d enqueued, %d delivered, %d in the shared stream "
                "for the fleet's workers",
                stats.enqueued,
                stats.delivered,
                stats.spooled,
            )
        elif trouble or stats.spooled:
            logger.warning(
                "usage batcher closed: %d enqueued, %d delivered, %d failed (on_error), "
                "%d outcome unknown (on_error), %d dropped (on_drop), %d left in the spool",
                stats.enqueued,
                stats.delivered,
                stats.failed,
                stats.outcome_unknown,
                stats.dropped,
                stats.spooled,
            )
        else:
            logger.debug("usage batcher closed: %d event(s) delivered", stats.delivered)
