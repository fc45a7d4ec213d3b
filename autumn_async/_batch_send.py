"""The batcher's loop side: dispatcher, delivery, batcher-level retries, flush and close.

Delivery goes through the client's pipeline (``AsyncAutumn._send``), so each request
gets the client's own bounded retries first. What is still failing after them stays
with the batcher: a retryable failure (no answer, 429, 5xx) parks the events for a
backoff and resends them under the same keys; a 409 duplicate for one of our keys is
a delivery; any other 4xx is final (``on_error``), after ``batch_track`` requests have
been split down to the event Autumn refuses, so one bad event cannot fail its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from typing import TYPE_CHECKING, Any

from ._batch_queue import EventQueue
from ._client import Replayed
from ._coalesce import QueuedEvent, coalesce
from ._config import NotGiven, Timeout
from ._errors import (
    APIConnectionError,
    AutumnDefaultError,
    ConflictError,
    InternalServerError,
    RateLimitError,
    UsageError,
)
from ._log import sdk_logger
from ._retry import RetryConfig
from ._spool import Spool

if TYPE_CHECKING:
    from ._client import AsyncAutumn

__all__ = ["Delivery"]

logger = sdk_logger("batcher")

#: Longest batcher-level wait between resends, whatever the server asks (seconds).
MAX_PARK_SECONDS = 60.0


def _retryable(error: BaseException) -> bool:
    if isinstance(error, (APIConnectionError, RateLimitError)):
        return True
    return isinstance(error, InternalServerError) and error.code != "invalid_inputs"


def _duplicate(error: BaseException) -> bool:
    return isinstance(error, ConflictError) and error.code == "duplicate_idempotency_key"


class Delivery:
    """Loop-side half of :class:`AsyncUsageBatcher` (state is set up by the subclass)."""

    _client: AsyncAutumn
    mode: str
    flush_interval: float
    max_concurrency: int
    coalesce: bool
    shutdown_timeout: float
    _retries: RetryConfig | NotGiven | None
    _timeout: float | Timeout | NotGiven
    _max_queue: int
    _spool: Spool | None
    _queue: EventQueue
    _loop: asyncio.AbstractEventLoop | None
    _loop_thread: int | None
    _wakeup: asyncio.Event
    _slots: asyncio.Semaphore | None
    _background: list[asyncio.Task[None]]
    _tasks: dict[asyncio.Task[None], list[QueuedEvent]]
    _parked: dict[object, tuple[asyncio.TimerHandle, list[QueuedEvent]]]
    _orphans: list[QueuedEvent]
    _flushers: list[tuple[int, asyncio.Future[None]]]
    _space_waiters: list[asyncio.Future[None]]
    _backlog: bool
    _closing: bool
    _closed: bool

    def _report_drop(self, event: QueuedEvent, reason: str) -> None:
        raise NotImplementedError

    def _report_error(self, event: QueuedEvent, error: BaseException) -> None:
        raise NotImplementedError

    # -- start and wake-ups ------------------------------------------------------------

    def _wake(self) -> None:
        """Wake the dispatcher, from the loop's thread or any other."""
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._wakeup.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to wake
                loop.call_soon_threadsafe(self._wakeup.set)

    def _flushers_changed(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._check_flushers()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._check_flushers)

    def _check_flushers(self) -> None:
        queue, waiting = self._queue, []
        for target, future in self._flushers:
            if future.done():
                continue
            if queue.settled_through(target):
                future.set_result(None)
            else:
                waiting.append((target, future))
        self._flushers = waiting
        queue.urgent = bool(waiting) or self._closing

    def _notify_space(self) -> None:
        waiters, self._space_waiters = self._space_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- the dispatcher ----------------------------------------------------------------

    async def _dispatch(self) -> None:
        queue, wakeup = self._queue, self._wakeup
        assert self._slots is not None
        slots = self._slots
        while True:
            wakeup.clear()
            with queue.lock:
                queue.wake_pending = False
                count = len(queue.ready)
                deadline: float | None = 0.0
                if count == 0:
                    deadline = None
                elif count < queue.batch_size and not queue.urgent:
                    deadline = queue.first_ready_at + self.flush_interval
                queue.idle = deadline is None
            if deadline is None:
                await wakeup.wait()
                continue
            left = deadline - time.monotonic()
            if left > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), left)
                continue
            batch = queue.take(queue.batch_size)
            self._notify_space()
            try:
                if self.coalesce:
                    batch = await self._coalesced(batch)
                if self.mode == "batch_track":
                    await slots.acquire()
                    self._spawn(self._send_batch(batch), batch)
                    batch = []
                else:
                    batch.reverse()  # popped from the end: oldest first, in O(1) each
                    while batch:
                        await slots.acquire()
                        event = batch.pop()
                        self._spawn(self._send_one(event), [event])
            except asyncio.CancelledError:
                self._orphans.extend(batch)  # taken but not sent when close cut in
                raise

    async def _coalesced(self, batch: list[QueuedEvent]) -> list[QueuedEvent]:
        out = coalesce(batch)
        spool = self._spool
        if spool is None:
            return out
        loop = asyncio.get_running_loop()
        checks = []
        for event in out:
            if event.members is not None:
                future: asyncio.Future[Any] = loop.create_future()
                keys = [member.key for member in event.members]
                spool.merge(keys, event.key, json.dumps(event.body), future)
                checks.append((event, future))
        result: list[QueuedEvent] = []
        replaced = {id(event): await future for event, future in checks}
        for event in out:
            if event.members is not None and not replaced[id(event)]:
                result.extend(event.members)  # another process holds some: send unmerged
            else:
                result.append(event)
        return result

    def _spawn(self, coro: Any, events: list[QueuedEvent]) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks[task] = events
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        events = self._tasks.pop(task, [])
        if self._slots is not None:
            self._slots.release()
        if task.cancelled():
            self._orphans.extend(events)  # cut short by close: maybe applied, not settled
        elif task.exception() is not None:
            logger.error("usage batcher delivery failed", exc_info=task.exception())
            self._settle(events, "failed")

    # -- sending -----------------------------------------------------------------------

    async def _post(self, operation: str, path: str, body: Any) -> None:
        try:
            await self._client._send(
                operation,
                path,
                body,
                retries=self._retries,
                timeout=self._timeout,
                idempotency_header=False,
                replay_safe=True,  # every event carries its key: a resend cannot count twice
            )
        except Replayed:
            return  # an earlier attempt of this very request was applied

    async def _send_one(self, event: QueuedEvent) -> None:
        try:
            await self._post("balances.track", "/v1/balances.track", event.body)
        except (AutumnDefaultError, APIConnectionError, UsageError) as error:
            self._failed([event], error)
        else:
            self._settle([event], "delivered")

    async def _send_batch(self, events: list[QueuedEvent]) -> None:
        try:
            await self._post(
                "balances.batch_track", "/v1/balances.batch_track", [e.body for e in events]
            )
        except (AutumnDefaultError, APIConnectionError, UsageError) as error:
            if len(events) > 1 and not _retryable(error) and isinstance(error, AutumnDefaultError):
                # Autumn validates the whole array first and enqueues nothing when one
                # event is refused: halve until the refused one stands alone.
                middle = len(events) // 2
                await self._send_batch(events[:middle])
                await self._send_batch(events[middle:])
                return
            self._failed(events, error)
        else:
            self._settle(events, "delivered")

    def _failed(self, events: list[QueuedEvent], error: BaseException) -> None:
        if _duplicate(error):
            self._settle(events, "delivered")  # our key was already applied
        elif _retryable(error) and not self._closed:
            self._park(events, error)
        else:
            self._settle(events, "failed")
            for event in events:
                self._report_error(event, error)

    def _settle(self, events: list[QueuedEvent], outcome: str) -> None:
        completed = False
        for event in events:
            completed |= self._queue.settle(event, outcome)
        if self._spool is not None:
            self._spool.delete([event.key for event in events])
        if completed:
            self._check_flushers()

    def _park(self, events: list[QueuedEvent], error: BaseException) -> None:
        attempts = max(event.attempts for event in events)
        for event in events:
            event.attempts += 1
        self._queue.park(events)
        wait = self._backoff(error, attempts)
        if wait <= 0:
            self._queue.unpark(events)
            return
        assert self._loop is not None
        token = object()
        handle = self._loop.call_later(wait, self._unpark, token)
        self._parked[token] = (handle, events)

    def _unpark(self, token: object) -> None:
        _handle, events = self._parked.pop(token)
        self._queue.unpark(events)

    def _backoff(self, error: BaseException, attempts: int) -> float:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, MAX_PARK_SECONDS))
        b = self._client.retry_config.backoff
        cap = min(b.initial_interval * b.exponent**attempts, b.max_interval) / 1000.0
        return random.uniform(0, min(cap, MAX_PARK_SECONDS))
