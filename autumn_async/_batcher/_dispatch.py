"""The dispatcher: turns queued events into requests, and failures into decisions.

Each request is one attempt through the client's pipeline (:func:`send_request`, the one
place that calls the client); the batcher keeps events across attempts and takes every
retry decision from :mod:`autumn_async._retry` (``decide``, ``CallState``), with
the SDK's policy for state-changing calls:

- never sent, no answer, 429, a gateway 502/503/504 without Autumn's JSON body: resend
  under the same key after the backoff (``Retry-After`` may lengthen it);
- in ``track`` mode, a 500 or any 5xx carrying Autumn's JSON error: Autumn released the
  key and may have applied the event, so it is never resent: ``on_error`` with an
  :class:`OutcomeUnknownError` carrying the key. In ``batch_track`` mode every item's key
  is claimed by Autumn's worker, so a resend of the whole batch is always safe;
- 409 ``duplicate_idempotency_key``: delivered, unless an earlier attempt of this event
  that may have been applied started less than one attempt timeout ago (it may still be
  running and fail): then asked again once that time has passed;
- any other 4xx: refused for good (``on_error``), after ``batch_track`` requests have been
  split down to the refused event, so one bad event cannot fail its batch;
- out of attempts: ``on_error``; as outcome unknown if any attempt may have been applied.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from autumn_async._config import NotGiven, Timeout, coerce_timeout
from autumn_async._errors import (
    AutumnDefaultError,
    AutumnError,
    InternalServerError,
)
from autumn_async._log import sdk_logger
from autumn_async._retry import (
    NO_RETRIES,
    Action,
    CallState,
    Failure,
    RetryConfig,
    classify,
    decide,
)

from ._events import QueuedEvent, coalesce
from ._queue import EventQueue
from ._report import Reporter

if TYPE_CHECKING:
    from autumn_async._client import AsyncAutumn

__all__ = ["Dispatcher", "Mode", "send_request"]

logger = sdk_logger("batcher")

Mode = Literal["track", "batch_track"]


async def send_request(
    client: AsyncAutumn,
    operation: str,
    path: str,
    body: Any,
    *,
    timeout: float | Timeout | NotGiven,
) -> None:
    """Send one attempt of one request through the client's pipeline; raise on failure.

    The only place the batcher talks to the client: attempts, backoff and outcomes are
    the dispatcher's, so the pipeline is asked for exactly one attempt.
    """
    # Every event carries its key in the body: the call is keyed, never resent blind.
    await client.pipeline.send(
        operation, path, body, retries=NO_RETRIES, timeout=timeout, key_in_body=True
    )


class Dispatcher:
    """Takes batches off the queue, sends them, and settles or parks what comes back."""

    def __init__(
        self,
        client: AsyncAutumn,
        queue: EventQueue,
        reporter: Reporter,
        *,
        mode: Mode,
        flush_interval: float,
        max_concurrency: int,
        max_requests_per_second: float | None,
        coalesce: bool,
        retries: RetryConfig,
        timeout: float | Timeout | NotGiven,
    ) -> None:
        self.client = client
        self.queue = queue
        self.reporter = reporter
        self.mode: Mode = mode
        self.flush_interval = flush_interval
        self.max_concurrency = max_concurrency
        self.coalesce = coalesce
        self.retries = retries
        self.timeout = timeout
        attempt = client.timeout if isinstance(timeout, NotGiven) else coerce_timeout(timeout)
        #: How long one attempt may take: a 409 is trusted once this much has passed.
        self.attempt_time = attempt.total
        self._spacing = 0.0 if max_requests_per_second is None else 1.0 / max_requests_per_second
        self._next_send = 0.0
        self.stopping = False  # close gave up: finish what is in flight, send nothing new
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wakeup = asyncio.Event()
        self.tasks: dict[asyncio.Task[None], list[QueuedEvent]] = {}
        self.parked: dict[object, tuple[asyncio.TimerHandle, list[QueuedEvent]]] = {}
        self.orphans: list[QueuedEvent] = []
        self._slots: asyncio.Semaphore | None = None
        self.generation = 0
        #: Requests started plus requests finished: close's measure of progress.
        self.activity = 0
        self._runner: asyncio.Task[None] | None = None

    # -- start, stop and wake-ups ------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on ``loop`` (the current one)."""
        self.loop = loop
        self.wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_concurrency)
        self._runner = loop.create_task(self._run())

    def wake(self) -> None:
        """Wake the dispatcher; called on the loop's thread."""
        self.wakeup.set()

    def in_flight(self) -> list[asyncio.Task[None]]:
        """The send tasks running now."""
        return list(self.tasks)

    async def stop_taking(self) -> None:
        """Stop the dispatcher loop (what is in flight goes on)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    def unpark_all(self) -> list[QueuedEvent]:
        """Take back every event waiting for its backoff (counted as queued)."""
        events: list[QueuedEvent] = []
        for handle, parked in self.parked.values():
            handle.cancel()
            events += parked
        self.parked.clear()
        return events

    def abandon(self) -> tuple[list[QueuedEvent], list[QueuedEvent]]:
        """Forget a dead loop's tasks: the events they had in flight, and those held."""
        self.generation += 1  # a task of that loop that ever runs again settles nothing
        flying = [event for batch in self.tasks.values() for event in batch]
        held = [*self.orphans, *self.unpark_all()]
        self.tasks.clear()
        self.orphans = []
        self._runner = None
        return flying, held

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        queue, wakeup = self.queue, self.wakeup
        assert self._slots is not None
        slots = self._slots
        while True:
            wakeup.clear()
            with queue.lock:
                queue.wake_pending = False
                count = len(queue.ready)
                deadline: float | None = 0.0
                if count == 0 or self.stopping:
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
            if self.mode == "batch_track":
                await self._send_next_batch(slots)
            else:
                await self._send_next_events(slots)

    async def _send_next_batch(self, slots: asyncio.Semaphore) -> None:
        await slots.acquire()
        if self._spacing:
            # Autumn limits batch_track per organisation: space this batcher's requests.
            now = time.monotonic()
            wait = self._next_send - now
            self._next_send = max(now, self._next_send) + self._spacing
            if wait > 0:
                try:
                    await asyncio.sleep(wait)
                except asyncio.CancelledError:
                    slots.release()
                    raise
        batch = self.queue.take(self.queue.batch_size)
        if not batch:
            slots.release()
            return
        if self.coalesce:
            batch = coalesce(batch)
        self._spawn(self._send_batch(batch), batch)

    async def _send_next_events(self, slots: asyncio.Semaphore) -> None:
        batch = self.queue.take(self.queue.batch_size)
        if self.coalesce:
            batch = coalesce(batch)
        pending = collections.deque(batch)
        try:
            while pending:
                await slots.acquire()
                if self._spacing:
                    now = time.monotonic()
                    wait = self._next_send - now
                    self._next_send = max(now, self._next_send) + self._spacing
                    if wait > 0:
                        try:
                            await asyncio.sleep(wait)
                        except asyncio.CancelledError:
                            slots.release()
                            raise
                event = pending.popleft()
                self._spawn(self._send_one(event), [event])
        except asyncio.CancelledError:
            self.queue.hold(pending)
            self.orphans.extend(pending)  # taken but not sent when close cut in
            raise

    def _spawn(self, coro: Any, events: list[QueuedEvent]) -> None:
        assert self.loop is not None
        self.activity += 1
        task = self.loop.create_task(coro)
        self.tasks[task] = events
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        events = self.tasks.pop(task, None)
        if events is None:
            return  # abandoned with a dead loop
        self.activity += 1
        if self._slots is not None:
            self._slots.release()
        if task.cancelled():
            for event in events:  # it may have been sent already
                if event.maybe_applied_at is None:
                    event.maybe_applied_at = time.monotonic()
            self.queue.hold(events)
            self.orphans.extend(events)  # cut short: close decides (spool, drop, unknown)
        elif task.exception() is not None:
            logger.error("usage batcher delivery failed", exc_info=task.exception())
            self.reporter.failed(events, task.exception() or RuntimeError("delivery failed"))

    # -- sending -----------------------------------------------------------------------

    async def _send_one(self, event: QueuedEvent) -> None:
        started, generation = time.monotonic(), self.generation
        try:
            await send_request(
                self.client,
                "balances.track",
                "/v1/balances.track",
                event.body,
                timeout=self.timeout,
            )
        except AutumnError as error:
            if generation == self.generation:
                self._failed([event], error, started)
        else:
            if generation == self.generation:
                self.reporter.delivered([event])

    async def _send_batch(self, events: list[QueuedEvent]) -> None:
        started, generation = time.monotonic(), self.generation
        try:
            await send_request(
                self.client,
                "balances.batch_track",
                "/v1/balances.batch_track",
                [e.body for e in events],
                timeout=self.timeout,
            )
        except AutumnError as error:
            if (
                len(events) > 1
                and isinstance(error, AutumnDefaultError)
                and not isinstance(error, InternalServerError)
                and not self._retryable(error)
                and error.status_code not in (401, 403)  # the key is refused, not an event
            ):
                # Autumn validates the whole array first and enqueues nothing when one
                # event is refused: halve until the refused one stands alone.
                middle = len(events) // 2
                await self._send_batch(events[:middle])
                await self._send_batch(events[middle:])
                return
            if generation == self.generation:
                self._failed(events, error, started)
        else:
            if generation == self.generation:
                self.reporter.delivered(events)

    def _retryable(self, error: AutumnError) -> bool:
        """Whether the policy could resend after ``error`` (used to split refused batches)."""
        return classify(error) not in (Failure.FINAL, Failure.APPLICATION)

    def _failed(self, events: list[QueuedEvent], error: AutumnError, started: float) -> None:
        verdict, wait = self._decide(events, error, started)
        if verdict == "delivered":
            self.reporter.delivered(events, duplicate=True)  # our key was applied, finished
        elif verdict == "unknown":
            self.reporter.unknown(events, error)
        elif verdict == "failed":
            self.reporter.failed(events, error)
        elif self.stopping:
            self.queue.hold(events)
            self.orphans.extend(events)  # close decides: spool, drop or unknown
        else:
            self._park(events, wait, error, count=verdict == "retry")

    def _decide(
        self, events: list[QueuedEvent], error: AutumnError, started: float
    ) -> tuple[Literal["retry", "ask_again", "delivered", "unknown", "failed"], float]:
        """The one retry policy (:func:`autumn_async._retry.decide`) applied to a delivery.

        ``("retry", wait)`` resend after ``wait``; ``("ask_again", wait)`` a 409 that
        cannot be trusted yet (not counted as an attempt); ``"delivered"`` a trusted 409;
        ``"unknown"`` may have been applied, never resent; ``"failed"`` never applied,
        refused or out of attempts. ``track`` is state-changing in the policy's sense (an
        Autumn 5xx released its key: do not resend). ``batch_track`` is not: Autumn's
        worker claims each item's key when it runs (``runBatchTrack.ts``), so resending
        a batch after any answer cannot count an event twice.
        """
        first = events[0]
        state = first.retry
        if not isinstance(state, CallState):
            state = first.retry = CallState(
                self.retries,
                state_changing=self.mode == "track",
                attempt_timeout=self.attempt_time,
            )
        # Attempts are per event (a parked batch may be re-formed with others).
        state.attempts = max(event.attempts for event in events)
        state.begin_attempt(started)
        earliest = [e.maybe_applied_at for e in events if e.maybe_applied_at is not None]
        if earliest:
            state.maybe_applied_since = min(earliest)
        if (
            self.mode == "track"
            and state.maybe_applied_since is None
            and classify(error) is Failure.DUPLICATE
        ):
            # The key is this event's own: Autumn saw it from another attempt (a caller's
            # earlier call, or a crashed process's). Trusted, as the policy trusts any 409,
            # once that attempt must have finished; asked again until then.
            state.maybe_applied_since = started
        decision = decide(error, state)
        if state.maybe_applied_since is not None:
            for event in events:
                if event.maybe_applied_at is None:
                    event.maybe_applied_at = state.maybe_applied_since
        action = decision.action
        if action is Action.REPLAYED:
            return "delivered", 0.0
        if action is Action.OUTCOME_UNKNOWN:
            return "unknown", 0.0
        if action is Action.RETRY:
            if self.stopping:
                return "retry", 0.0  # close decides what becomes of it
            if classify(error) is Failure.DUPLICATE:
                return "ask_again", decision.wait
            return "retry", decision.wait
        maybe_applied = decision.maybe_applied or (
            self.mode == "track" and any(e.maybe_applied_at is not None for e in events)
        )
        return ("unknown" if maybe_applied else "failed"), 0.0

    def _park(
        self, events: list[QueuedEvent], wait: float, error: AutumnError, *, count: bool
    ) -> None:
        first = events[0]
        for event in events:
            if count:
                event.attempts += 1
            if event.retry is None:
                event.retry = first.retry
        self.queue.park(events)
        if self.stopping:
            self.orphans.extend(events)
            return
        assert self.loop is not None
        token = object()
        handle = self.loop.call_later(max(wait, 0.0), self._unpark, token)
        self.parked[token] = (handle, events)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "usage batcher: %d event(s) resent in %.3fs after %s",
                len(events),
                wait,
                type(error).__name__,
            )

    def _unpark(self, token: object) -> None:
        _handle, events = self.parked.pop(token)
        self.queue.unpark(events)
