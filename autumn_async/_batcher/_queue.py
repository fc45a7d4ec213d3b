"""The batcher's bounded queue: admission, the overflow policy and the bookkeeping.

One implementation serves both kinds of caller: :meth:`EventQueue.admit` (a caller
thread, blocking) and :meth:`EventQueue.admit_async` (a coroutine on the loop) apply the
same policy, ``"block"`` (wait for room, up to ``block_timeout``), ``"drop_newest"`` or
``"drop_oldest"``.

Everything here runs under one ``threading.Lock`` held for a few operations at a time,
so a sync caller can enqueue from its own thread without a hop to the event loop. The
loop side (dispatcher, delivery) is told when to wake through ``wake``; it is called at
most once per dispatcher cycle, not once per event, because a cross-thread wake-up is a
system call.

Flush bookkeeping uses epochs: each event is counted in the epoch current when it was
enqueued, and ``flush()`` starts a new epoch and waits until no event of an older one
is left unsettled (delivered, failed for good or dropped).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Literal

from autumn_async._errors import UsageError

from ._events import BatcherStats, QueuedEvent

__all__ = ["Admission", "EventQueue", "Overflow"]

Overflow = Literal["block", "drop_newest", "drop_oldest"]
#: What admission decided: room reserved (and maybe an evicted event), or why not.
Admission = tuple[bool, QueuedEvent | None, str]


class EventQueue:
    """Events waiting for delivery, in order, with counters and flush epochs."""

    def __init__(
        self,
        max_queue: int,
        batch_size: int,
        wake: Callable[[], None],
        *,
        overflow: Overflow = "block",
        block_timeout: float | None = None,
    ) -> None:
        self.max_queue = max_queue
        self.overflow: Overflow = overflow
        self.block_timeout = block_timeout
        self._space_waiters: list[asyncio.Future[None]] = []
        self.batch_size = batch_size
        self._wake = wake
        self.lock = threading.Lock()
        self.space = threading.Condition(self.lock)
        self.ready: collections.deque[QueuedEvent] = collections.deque()
        self.held = 0  # ready + waiting for a retry + reserved by a track in progress
        self.in_flight = 0
        self.enqueued = self.delivered = self.failed = self.dropped = 0
        self.outcome_unknown = self.spooled = 0
        self.retried = self.recovered = self.duplicates = 0
        self.epoch = 0
        self.open: dict[int, int] = {}  # epoch -> events not yet settled
        self.first_ready_at = 0.0  # when the oldest ready event arrived (monotonic)
        self.idle = False  # the dispatcher sleeps with no deadline: wake it on any event
        self.wake_pending = False
        self.urgent = False  # a flush or a close is waiting: send partial batches now
        self.closed = False  # set at close: waiting callers give up, new ones are refused

    def stats(self) -> BatcherStats:
        """A consistent snapshot of the counters."""
        with self.lock:
            return BatcherStats(
                enqueued=self.enqueued,
                delivered=self.delivered,
                failed=self.failed,
                outcome_unknown=self.outcome_unknown,
                dropped=self.dropped,
                spooled=self.spooled,
                retried=self.retried,
                queued=self.held,
                in_flight=self.in_flight,
                recovered=self.recovered,
                duplicates=self.duplicates,
            )

    # -- admission (any thread) --------------------------------------------------------

    def admit(self) -> Admission:
        """Reserve room for one event in the calling thread, under the overflow policy.

        Returns ``(True, evicted, "")`` when room was reserved (``evicted`` is the event
        ``drop_oldest`` gave up, to be reported dropped), or ``(False, None, reason)``
        when the new event is dropped (``"queue_full"`` or ``"block_timeout"``).
        """
        with self.space:
            ok, evicted = self._reserve_locked(evict=self.overflow == "drop_oldest")
            if ok:
                return True, evicted, ""
            if self.overflow == "drop_newest":
                return False, None, "queue_full"
            timeout = self.block_timeout
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False, None, "block_timeout"
                self.space.wait(left)
                ok, _ = self._reserve_locked(evict=False)
                if ok:
                    return True, None, ""

    async def admit_async(self) -> Admission:
        """:meth:`admit` for a coroutine: waits on the loop, never blocks it."""
        with self.lock:
            ok, evicted = self._reserve_locked(evict=self.overflow == "drop_oldest")
        if ok:
            return True, evicted, ""
        if self.overflow == "drop_newest":
            return False, None, "queue_full"
        loop = asyncio.get_running_loop()
        timeout = self.block_timeout
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            with self.lock:
                ok, _ = self._reserve_locked(evict=False)
                if ok:
                    return True, None, ""
                self._space_waiters.append(waiter)
            left = None if deadline is None else deadline - loop.time()
            try:
                await asyncio.wait_for(waiter, left)
            except asyncio.TimeoutError:
                return False, None, "block_timeout"

    def _notify_space_locked(self, count: int) -> None:
        self.space.notify(count)
        waiters, self._space_waiters = self._space_waiters, []
        for waiter in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                waiter.get_loop().call_soon_threadsafe(_set_done, waiter)

    def _reserve_locked(self, *, evict: bool) -> tuple[bool, QueuedEvent | None]:
        if self.closed:
            raise UsageError("this batcher is closed; create a new one")
        if self.held < self.max_queue:
            self.held += 1
            return True, None
        if evict and self.ready:
            evicted = self.ready.popleft()
            self.held -= evicted.count - 1  # its room is handed over to the newcomer
            return True, evicted
        return False, None

    def unreserve(self) -> None:
        """Give back a reservation whose event was never enqueued."""
        with self.lock:
            self.held -= 1
            self._notify_space_locked(1)

    def push(self, event: QueuedEvent, *, reserved: bool = True, recovered: bool = False) -> None:
        """Enqueue ``event`` (after its reservation, and its spool insert if any)."""
        with self.lock:
            if not reserved:
                self.held += 1
            event.epoch = epoch = self.epoch
            self.open[epoch] = self.open.get(epoch, 0) + 1
            self.enqueued += 1
            if recovered:
                self.recovered += 1
            if not self.ready:
                self.first_ready_at = time.monotonic()
            self.ready.append(event)
            wake = self._should_wake()
        if wake:
            self._wake()

    def _should_wake(self) -> bool:
        if self.wake_pending:
            return False
        if self.idle or self.urgent or len(self.ready) >= self.batch_size:
            self.wake_pending = True
            return True
        return False

    # -- the dispatcher's side (loop thread) --------------------------------------------

    def take(self, limit: int) -> list[QueuedEvent]:
        """Move up to ``limit`` ready events in flight, oldest first, and free their room."""
        with self.lock:
            ready = self.ready
            n = min(limit, len(ready))
            batch = [ready.popleft() for _ in range(n)]
            count = sum(event.count for event in batch)
            self.held -= count
            self.in_flight += count
            if ready:
                self.first_ready_at = time.monotonic()
            if n:
                self._notify_space_locked(count)
        return batch

    def requeue(self, events: Iterable[QueuedEvent], *, retry: bool) -> None:
        """Put in-flight events back at the front (a retry, or a batch being split)."""
        events = list(events)
        with self.lock:
            count = sum(event.count for event in events)
            self.in_flight -= count
            self.held += count
            if retry:
                self.retried += count
            if not self.ready:
                self.first_ready_at = time.monotonic()
            self.ready.extendleft(reversed(events))
            wake = self._should_wake()
        if wake:
            self._wake()

    def park(self, events: Iterable[QueuedEvent]) -> None:
        """In-flight events that will come back after a backoff: counted as queued again."""
        with self.lock:
            count = sum(event.count for event in events)
            self.in_flight -= count
            self.held += count
            self.retried += count

    def hold(self, events: Iterable[QueuedEvent]) -> None:
        """In-flight events that will not be sent again by the dispatcher (close decides)."""
        with self.lock:
            count = sum(event.count for event in events)
            self.in_flight -= count
            self.held += count

    def fly(self, events: Iterable[QueuedEvent]) -> None:
        """Held events (parked or orphaned) about to be settled by close: count them in flight."""
        with self.lock:
            count = sum(event.count for event in events)
            self.held -= count
            self.in_flight += count

    def unpark(self, events: list[QueuedEvent]) -> None:
        """Parked events whose backoff is over rejoin the front of the queue."""
        with self.lock:
            if not self.ready:
                self.first_ready_at = time.monotonic()
            self.ready.extendleft(reversed(events))
            wake = self._should_wake()
        if wake:
            self._wake()

    def settle(self, event: QueuedEvent, outcome: str, *, from_flight: bool = True) -> bool:
        """Count ``event`` as ``delivered``, ``failed`` or ``dropped``.

        Returns whether an epoch was completed (flush waiters may be done).
        """
        with self.lock:
            count = event.count
            if from_flight:
                self.in_flight -= count
            else:
                self.held -= count
            setattr(self, outcome, getattr(self, outcome) + count)
            return self._close_epochs(event.leaves())

    def _close_epochs(self, leaves: Iterable[QueuedEvent]) -> bool:
        completed = False
        open_ = self.open
        for leaf in leaves:
            left = open_[leaf.epoch] - 1
            if left:
                open_[leaf.epoch] = left
            else:
                del open_[leaf.epoch]
                completed = True
        return completed

    def settle_evicted(self, event: QueuedEvent) -> bool:
        """Count an event evicted by ``drop_oldest`` (its room went to the newcomer)."""
        with self.lock:
            self.dropped += event.count
            return self._close_epochs(event.leaves())

    def count_duplicates(self, count: int) -> None:
        """Count delivered events Autumn answered were already applied."""
        with self.lock:
            self.duplicates += count

    def count_rejected(self) -> None:
        """Count a new event refused by a full queue: enqueued and dropped at once."""
        with self.lock:
            self.enqueued += 1
            self.dropped += 1

    def count_handed_over(self) -> None:
        """Count an event handed to a shared spool for others to deliver: enqueued, spooled."""
        with self.lock:
            if self.closed:
                raise UsageError("this batcher is closed; create a new one")
            self.enqueued += 1
            self.spooled += 1

    def new_epoch(self) -> int:
        """Start a flush: the epoch to wait for (every event enqueued before now)."""
        with self.lock:
            target = self.epoch
            self.epoch += 1
            return target

    def settled_through(self, target: int) -> bool:
        """Whether every event of epochs up to ``target`` is settled."""
        with self.lock:
            return not self.open or min(self.open) > target

    def close(self) -> None:
        """Refuse new events and wake every thread waiting for room."""
        with self.lock:
            self.closed = True
            self.space.notify_all()
            self._notify_space_locked(0)

    def drain_all(self) -> list[QueuedEvent]:
        """Take every ready event out (at close, after the drain time ran out)."""
        with self.lock:
            events = list(self.ready)
            self.ready.clear()
            count = sum(event.count for event in events)
            self.held -= count
            self.in_flight += count
            return events


def _set_done(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
