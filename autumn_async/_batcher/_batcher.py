"""``AsyncUsageBatcher``: high-volume usage tracking, each event delivered exactly once.

Composed of: an :class:`~._queue.EventQueue` (admission, overflow, counters, flush
epochs), a :class:`~._dispatch.Dispatcher` (batches to requests, the retry policy), a
:class:`~._report.Reporter` (where each event ends) and, optionally, a
:class:`~._spool.Spool`. This module owns the lifecycle: start on a loop, recover from
the spool, flush, and close.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import threading
import time
import warnings
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from autumn_async._checks import new_key
from autumn_async._config import NOT_GIVEN, NotGiven, Timeout
from autumn_async._errors import APIConnectionError, UsageError
from autumn_async._fork import abandon, register
from autumn_async._log import sdk_logger
from autumn_async._process_bound import ProcessBound
from autumn_async._public import publish
from autumn_async._requests import build_track
from autumn_async._retry import NO_RETRIES, RetryConfig

from ._dispatch import Dispatcher, Mode
from ._events import BatcherStats, QueuedEvent, is_coalescable
from ._queue import EventQueue, Overflow
from ._report import OnDrop, OnError, Reporter
from ._spool import Spool, SpooledEvent, SpoolFullError
from ._sqlite import SQLiteSpool

if TYPE_CHECKING:
    from autumn_async._client import AsyncAutumn

__all__ = ["AsyncUsageBatcher", "BlockingFace"]

#: ``balances.batch_track`` takes at most this many events per request (spec §13).
BATCH_TRACK_LIMIT = 1000
#: Per mode: (max_batch_size, max_concurrency, max_requests_per_second). Autumn allows
#: 10 ``batch_track`` requests/s per organisation: 2/s per batcher leaves room for five
#: processes at full speed (10 at one partial batch per ``flush_interval``).
DEFAULTS: dict[str, tuple[int, int, float | None]] = {
    "batch_track": (BATCH_TRACK_LIMIT, 2, 2.0),
    "track": (100, 16, None),
}
DEFAULT_MAX_ATTEMPTS = 20
#: A batcher keeps resending for at most this long (Autumn remembers keys for 24 h).
_MAX_RETRY_ELAPSED_MS = 12 * 3600 * 1000

_live: weakref.WeakSet[AsyncUsageBatcher] = weakref.WeakSet()

#: A stream spool's claim waits this long for new events (also how soon its claimer
#: notices a close).
_CLAIM_WAIT = 0.25
#: After a failed claim (Redis away, a failover), the claim loop waits this long at
#: first, doubling up to the second figure, and starts over after a claim that worked.
_CLAIM_RETRY_FIRST, _CLAIM_RETRY_MAX = _CLAIM_WAIT, 5.0
#: Under ``overflow="block"``, a full spool is asked again after this long, doubling.
_FULL_RETRY_FIRST, _FULL_RETRY_MAX = 0.01, 1.0


class _StreamSpool(Protocol):
    """A spool whose ``put`` hands events to every consumer (``RedisSpool``).

    Such a spool sets ``shared_stream = True``: events put are not leased to the
    producer, so a delivering batcher delivers only what it claims back, and
    ``deliver=False`` leaves them to other processes.
    """

    async def claim(self, limit: int, *, wait: float = 0.0) -> list[SpooledEvent]: ...


def _is_stream(spool: Spool | None) -> bool:
    return spool is not None and getattr(spool, "shared_stream", False) is True


def _spool_path(value: object) -> str:
    """A usable file name, or a UsageError: SQLite opens ``""`` as a private temporary
    database deleted on close, which would silently make the spool non-durable."""
    try:
        path = os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        path = None
    if not isinstance(path, str):
        raise UsageError(
            f"spool_path must be a str or os.PathLike path, got {type(value).__name__}",
            field="spool_path",
        )
    if not path or "\x00" in path:
        raise UsageError(
            f"spool_path must be a non-empty file name without NUL, got {path!r}",
            field="spool_path",
        )
    return path


def _positive(value: object, field: str, *, integer: bool) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise UsageError(f"{field} must be {kind}, got {value!r}", field=field)


class AsyncUsageBatcher(ProcessBound):
    """Queue usage events and deliver them in the background, each exactly once.

    Get one with ``autumn.batcher(...)``; use it as ``async with`` or call :meth:`aclose`.
    Options (all keyword-only):

    - ``mode``: ``"batch_track"`` (default; ``POST /v1/balances.batch_track``, up to 1,000
      events per request) or ``"track"`` (one ``balances.track`` per event);
    - ``max_batch_size`` (1,000 in ``batch_track``, 100 in ``track``) and
      ``flush_interval`` (1 s): a batch leaves when full or when its oldest event has
      waited that long; ``max_concurrency`` (2, or 16 in ``track``) bounds requests in
      flight; ``max_requests_per_second`` (2 in ``batch_track``, unlimited in ``track``)
      spaces requests to stay under Autumn's per-organisation limit;
    - ``max_queue`` (100,000) bounds events held in memory; when full, ``overflow``
      decides: ``"block"`` (``track`` waits, up to ``block_timeout`` seconds, then drops),
      ``"drop_newest"`` or ``"drop_oldest"``. Every drop calls ``on_drop(event, reason)``;
    - ``max_attempts`` (20): deliveries tried per event before it goes to ``on_error``;
    - ``coalesce=True`` sums plain counter events (same customer, feature or event name
      and entity, no properties, no caller key) into one event per batch (not with a spool);
    - ``spool_path`` (an SQLite file) or ``spool`` (any :class:`Spool`): an event is
      durable before ``track`` returns and is resent under its key after a crash;
      with a shared spool (``RedisSpool``) ``track`` hands the event to the spool and the
      batcher delivers what it claims from it, its own events and other producers';
      ``deliver=False`` only hands events over (web processes, serverless functions) and
      leaves delivery to workers. A full spool (``SpoolFullError``: ``max_backlog``,
      Redis out of memory) meets ``overflow`` like a full queue: ``"block"`` asks again
      until ``block_timeout``; ``"drop_newest"`` and ``"drop_oldest"`` drop the new event
      (``on_drop`` reason ``"spool_full"``; nothing is evicted from a shared spool);
    - ``on_error(event, error)``: an event refused for good, out of attempts, or whose
      outcome cannot be known (an :class:`OutcomeUnknownError` carrying its key);
    - ``shutdown_timeout`` (``None``): closing waits while delivery makes progress; with a
      number, it gives up after that many seconds *without progress*;
    - ``retries`` (the backoff; default the client's) and ``timeout`` (per attempt).

    Every event gets its idempotency key when it is enqueued and keeps it on every
    resend. Callbacks run on the event loop's thread (``on_drop`` also on a caller's
    thread): keep them short.
    """

    def __init__(
        self,
        client: AsyncAutumn,
        *,
        mode: Mode = "batch_track",
        max_batch_size: int | None = None,
        flush_interval: float = 1.0,
        max_concurrency: int | None = None,
        max_requests_per_second: float | NotGiven | None = NOT_GIVEN,
        max_queue: int = 100_000,
        overflow: Overflow = "block",
        block_timeout: float | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        coalesce: bool = False,
        spool_path: str | os.PathLike[str] | None = None,
        spool: Spool | None = None,
        spool_lease: float = 30.0,
        deliver: bool = True,
        on_error: OnError | None = None,
        on_drop: OnDrop | None = None,
        shutdown_timeout: float | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> None:
        if getattr(client, "closed", False):
            # Every event would fail for good with this UsageError, one by one (and be
            # settled out of a spool that could have kept it for the next run).
            raise UsageError("this client is closed; create a new one", field=None)
        if mode not in DEFAULTS:
            raise UsageError(f"mode must be 'batch_track' or 'track', got {mode!r}", field="mode")
        default_size, default_concurrency, default_rate = DEFAULTS[mode]
        size = default_size if max_batch_size is None else max_batch_size
        _positive(size, "max_batch_size", integer=True)
        if mode == "batch_track" and size > BATCH_TRACK_LIMIT:
            raise UsageError(
                "max_batch_size is at most 1000 in batch_track mode", field="max_batch_size"
            )
        _positive(flush_interval, "flush_interval", integer=False)
        concurrency = default_concurrency if max_concurrency is None else max_concurrency
        _positive(concurrency, "max_concurrency", integer=True)
        if concurrency > client.max_connections:
            # Requests past the pool size wait for a connection or open a new one each
            # time (a TLS handshake against the real API): never what anyone wants.
            raise UsageError(
                f"max_concurrency={concurrency} exceeds the client's "
                f"max_connections={client.max_connections}; raise max_connections",
                field="max_concurrency",
            )
        rate = (
            default_rate
            if isinstance(max_requests_per_second, NotGiven)
            else max_requests_per_second
        )
        if rate is not None:
            _positive(rate, "max_requests_per_second", integer=False)
        _positive(max_queue, "max_queue", integer=True)
        _positive(max_attempts, "max_attempts", integer=True)
        if shutdown_timeout is not None:
            _positive(shutdown_timeout, "shutdown_timeout", integer=False)
        _positive(spool_lease, "spool_lease", integer=False)
        if overflow not in ("block", "drop_newest", "drop_oldest"):
            raise UsageError(f"unknown overflow policy {overflow!r}", field="overflow")
        if block_timeout is not None:
            _positive(block_timeout, "block_timeout", integer=False)
        for name, callback in (("on_error", on_error), ("on_drop", on_drop)):
            if callback is not None and not callable(callback):
                raise UsageError(f"{name} must be callable", field=name)
        if spool is not None and spool_path is not None:
            raise UsageError("pass spool_path or spool, not both", field="spool")
        if spool is not None and not isinstance(spool, Spool):
            raise UsageError("spool must implement the Spool protocol", field="spool")
        if spool_path is not None:
            spool = SQLiteSpool(_spool_path(spool_path), lease=spool_lease)
        if not isinstance(deliver, bool):
            raise UsageError("deliver must be True or False", field="deliver")
        if not deliver and not _is_stream(spool):
            raise UsageError(
                "deliver=False needs a spool that other processes deliver from "
                "(spool=RedisSpool(url))",
                field="deliver",
            )
        if coalesce and spool is not None:
            # A spool cannot swap the summed events for their sum atomically, so a crash
            # between the two could count them twice.
            raise UsageError("coalesce cannot be combined with a spool", field="coalesce")
        if retries is NOT_GIVEN:
            base = client.retry_config
        elif retries is None:
            base = NO_RETRIES
        elif isinstance(retries, RetryConfig):
            base = retries
        else:
            raise UsageError("retries must be a RetryConfig or None", field="retries")
        if base.strategy == "backoff":
            base = attrs.evolve(
                base,
                max_attempts=max_attempts,
                backoff=attrs.evolve(base.backoff, max_elapsed_time=_MAX_RETRY_ELAPSED_MS),
            )
        self._client = client
        self.mode: Mode = mode
        self.max_batch_size = size
        self.flush_interval = float(flush_interval)
        self.max_concurrency = concurrency
        self.max_requests_per_second = rate
        self.overflow: Overflow = overflow
        self.block_timeout = block_timeout
        self.max_attempts = max_attempts
        self.coalesce = bool(coalesce)
        self.shutdown_timeout = shutdown_timeout
        self._on_error, self._on_drop = on_error, on_drop
        self._retries, self._timeout = base, timeout
        self._max_queue = max_queue
        self._spool = spool
        self._stream = _is_stream(spool)
        self.deliver = deliver
        self._fresh_state()
        _live.add(self)
        batchers = getattr(client, "_batchers", None)  # None: a stand-in client in tests
        if batchers is not None:
            batchers.add(self)  # closing the client closes (delivers) this batcher first

    def _fresh_state(self) -> None:
        # Everything bound to one process and one event loop (reset in a forked child).
        self._queue = queue = EventQueue(
            self._max_queue,
            self.max_batch_size,
            self._wake,
            overflow=self.overflow,
            block_timeout=self.block_timeout,
        )
        self._reporter = Reporter(
            queue, self._spool, self._on_error, self._on_drop, self._check_flushers
        )
        self._dispatcher = Dispatcher(
            self._client,
            queue,
            self._reporter,
            mode=self.mode,
            flush_interval=self.flush_interval,
            max_concurrency=self.max_concurrency,
            max_requests_per_second=self.max_requests_per_second,
            coalesce=self.coalesce,
            retries=self._retries,
            timeout=self._timeout,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._reclaimer: asyncio.Task[None] | None = None
        self._flushers: list[tuple[int, asyncio.Future[None]]] = []
        self._backlog = False
        self._closing = self._closed = False
        self._closed_event: asyncio.Event | None = None
        self._starting: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        # A batcher whose __init__ raised (a bad option) still shows up in tracebacks
        # rendered with their frames' locals (``capture_locals``): never fail here.
        if "_queue" not in self.__dict__:
            return "AsyncUsageBatcher(<not built>)"
        return f"AsyncUsageBatcher(mode={self.mode!r}, stats={self.stats!r})"

    @property
    def stats(self) -> BatcherStats:
        """Counters in tracked events (see :class:`BatcherStats`); they always add up."""
        stats = self._queue.stats()
        counters = getattr(self._spool, "counters", None)
        if isinstance(counters, dict) and counters:
            stats = attrs.evolve(stats, spool=dict(counters))
        return stats

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has finished."""
        return self._closed

    # -- track -------------------------------------------------------------------------

    async def track(
        self,
        *,
        customer_id: str,
        feature_id: str | None = None,
        event_name: str | None = None,
        value: float | None = None,
        properties: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        entity_id: str | None = None,
    ) -> None:
        """Queue one usage event; the arguments are those of ``balances.track``.

        Returns once the event is queued (and durable, with a spool); it is sent in the
        background. A bad argument raises ``UsageError`` here, before anything is queued.
        Waits only under ``overflow="block"`` with a full queue.
        """
        if self._loop is not asyncio.get_running_loop():
            await self._start()
        event, encoded = self._event(
            customer_id=customer_id,
            feature_id=feature_id,
            event_name=event_name,
            value=value,
            properties=properties,
            idempotency_key=idempotency_key,
            entity_id=entity_id,
        )
        if self._stream:
            await self._hand_over_async(event, encoded)
            return
        ok, evicted, reason = await self._queue.admit_async()
        if evicted is not None:
            self._reporter.dropped(evicted, "queue_full", how="evicted")
        if not ok:
            self._reporter.dropped(event, reason, how="rejected")
            return
        spool = self._spool
        if spool is not None:
            try:
                await spool.put([SpooledEvent(event.key, encoded, time.time())])
            except BaseException:
                self._queue.unreserve()
                raise
        self._queue.push(event)

    def _event(
        self,
        *,
        customer_id: object,
        feature_id: object,
        event_name: object,
        value: object,
        properties: object,
        idempotency_key: object,
        entity_id: object,
    ) -> tuple[QueuedEvent, bytes]:
        if self._closing:
            raise UsageError("this batcher is closed; create a new one")
        key = idempotency_key if idempotency_key is not None else new_key()
        body = build_track(
            customer_id=customer_id,
            feature_id=feature_id,
            event_name=event_name,
            value=value,
            properties=properties,
            idempotency_key=key,
            entity_id=entity_id,
        )
        try:
            encoded = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise UsageError(
                f"properties cannot be sent as JSON: {exc}", field="properties"
            ) from None
        coalescable = self.coalesce and is_coalescable(body, caller_key=idempotency_key is not None)
        return QueuedEvent(body["idempotency_key"], body, 0, coalescable=coalescable), encoded

    def _track_threadsafe(self, **arguments: Any) -> None:
        """The sync batcher's ``track``, in the caller's thread: no hop to the loop.

        Blocks the caller only for room under ``"block"`` (and a spool's ``put_blocking``).
        """
        if threading.get_ident() == self._loop_thread:
            raise UsageError(
                "a blocking batcher.track was called on the batcher's own event-loop thread "
                "(for example from on_error or on_drop); it could deadlock"
            )
        event, encoded = self._event(**arguments)
        if self._stream:
            self._hand_over_blocking(event, encoded)
            return
        queue = self._queue
        ok, evicted, reason = queue.admit()
        if evicted is not None:
            self._reporter.dropped(evicted, "queue_full", how="evicted")
        if not ok:
            self._reporter.dropped(event, reason, how="rejected")
            return
        spool = self._spool
        if spool is not None:
            try:
                spool.put_blocking([SpooledEvent(event.key, encoded, time.time())])
            except BaseException:
                queue.unreserve()
                raise
        queue.push(event)

    # -- a shared spool: hand events over, deliver what is claimed ---------------------

    def _full(self, exc: SpoolFullError, started: float, delay: float) -> str | float:
        """After the spool refused an event: the drop reason, or how long to wait before
        asking again (never past ``block_timeout``: the last wait is cut to fit it)."""
        if self.overflow != "block":
            return f"spool_full:{exc.reason}"
        timeout = self.block_timeout
        if timeout is None:
            return delay
        left = started + timeout - time.monotonic()
        if left <= 0:
            return "block_timeout"
        return min(delay, left)

    async def _hand_over_async(self, event: QueuedEvent, encoded: bytes) -> None:
        spool = self._spool
        assert spool is not None
        spooled = [SpooledEvent(event.key, encoded, time.time())]
        started, delay = time.monotonic(), _FULL_RETRY_FIRST
        while True:
            try:
                await spool.put(spooled)
            except SpoolFullError as exc:
                wait = self._full(exc, started, delay)
                if isinstance(wait, str):
                    self._reporter.dropped(event, wait, how="rejected")
                    return
                await asyncio.sleep(wait)
                delay = min(delay * 2, _FULL_RETRY_MAX)
                continue
            self._queue.count_handed_over()
            return

    def _hand_over_blocking(self, event: QueuedEvent, encoded: bytes) -> None:
        spool = self._spool
        assert spool is not None
        spooled = [SpooledEvent(event.key, encoded, time.time())]
        started, delay = time.monotonic(), _FULL_RETRY_FIRST
        while True:
            try:
                spool.put_blocking(spooled)
            except SpoolFullError as exc:
                wait = self._full(exc, started, delay)
                if isinstance(wait, str):
                    self._reporter.dropped(event, wait, how="rejected")
                    return
                time.sleep(wait)
                delay = min(delay * 2, _FULL_RETRY_MAX)
                continue
            self._queue.count_handed_over()
            return

    async def _claim_stream(self, wait: float) -> int:
        """Claim from a shared spool into the queue, as far as there is room."""
        queue = self._queue
        room = min(self._max_queue - queue.stats().queued, BATCH_TRACK_LIMIT)
        if room <= 0:
            return 0
        spool: Any = self._spool
        claim: _StreamSpool = spool
        events = await claim.claim(room, wait=wait)
        await self._push_claimed(events)
        return len(events)

    async def _push_claimed(self, events: list[SpooledEvent]) -> None:
        """Queue claimed events; a body that is not a JSON object is dead-lettered at once
        (``malformed``): sending cannot fix it, and it must not stop the events beside it."""
        assert self._spool is not None
        dead: dict[str, str] = {}
        for spooled in events:
            try:
                body = json.loads(spooled.body)
            except ValueError as exc:  # not JSON, or not UTF-8
                dead[spooled.key] = f"malformed: the body is not JSON ({exc})"
                continue
            if not isinstance(body, dict):
                dead[spooled.key] = f"malformed: the body is a JSON {type(body).__name__}"
                continue
            event = QueuedEvent(spooled.key, body, 0, coalescable=False)
            self._queue.push(event, reserved=False, recovered=True)
        if dead:
            self._reporter._warn("malformed", [], f"{len(dead)} unreadable event(s) dead-lettered")
            await self._spool.settle([], dead=dead)

    async def _claim_stream_forever(self) -> None:
        # A failed claim is logged (rate-limited) and tried again after a growing pause:
        # the loop ends only with the batcher, never with one error.
        delay = _CLAIM_RETRY_FIRST
        while not self._closing:
            try:
                claimed = await self._claim_stream(_CLAIM_WAIT)
            except Exception as exc:  # noqa: BLE001 (logged; tried again)
                self._reporter._warn("spool", [], f"not claimed from the spool ({exc})")
                await self._pause(delay)
                delay = min(delay * 2, _CLAIM_RETRY_MAX)
                continue
            delay = _CLAIM_RETRY_FIRST
            if not claimed and self._queue.stats().queued >= self._max_queue:
                await asyncio.sleep(_CLAIM_WAIT)  # no room: the dispatcher makes some

    async def _pause(self, seconds: float) -> None:
        """Sleep, in steps of ``_CLAIM_WAIT`` so that a close ends the pause."""
        for _ in range(round(seconds / _CLAIM_WAIT)):
            if self._closing:
                return
            await asyncio.sleep(_CLAIM_WAIT)

    async def _drain_stream(self) -> None:
        """Until nothing is left to claim: every claimed event settled."""
        if not self.deliver:
            return  # every track() returned with its event in the spool
        claimer = self._reclaimer
        if self._closing and claimer is not None:
            await asyncio.wait([claimer])  # it stops within _CLAIM_WAIT (never cancelled)
            self._reclaimer = None
        while True:
            await self._settled()
            if not await self._claim_stream(0.0):
                return

    # -- start, wake-ups, recovery -----------------------------------------------------

    def _wake(self) -> None:
        """Wake the dispatcher, from the loop's thread or any other."""
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._dispatcher.wake()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to wake
                loop.call_soon_threadsafe(self._dispatcher.wake)

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        starting = self._starting
        if starting is not None and starting.get_loop() is loop:
            await asyncio.shield(starting)  # many first track() calls at once: one start
            return
        self._starting = starting = loop.create_future()
        try:
            await self._start_on(loop)
        except BaseException as exc:
            starting.set_exception(exc)
            starting.exception()  # retrieved: the waiters re-raise it
            self._starting = None
            raise
        starting.set_result(None)

    async def _start_on(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._closing:
            raise UsageError("this batcher is closed; create a new one")
        old = self._loop
        if old is not None and old.is_running():
            raise UsageError("this batcher runs on another event loop; create one per loop")
        spool = self._spool
        if spool is not None:
            await spool.open(self._client.account_fingerprint)
        if old is not None:
            self._take_back_from(old)
        self._bind(loop)
        if self._stream:
            if self.deliver:
                self._reclaimer = loop.create_task(self._claim_stream_forever())
        elif spool is not None:
            await self._claim()  # what an earlier run left: flush() waits for it too
            self._reclaimer = loop.create_task(self._reclaim_forever())

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._reporter.loop, self._reporter.loop_thread = loop, self._loop_thread
        self._dispatcher.start(loop)
        self._flushers = []

    def _take_back_from(self, old: asyncio.AbstractEventLoop) -> None:
        # The loop it ran on has stopped for good: what its tasks held is resent here,
        # under the same keys (a resend of something applied meets Autumn's duplicate check).
        flying, held = self._dispatcher.abandon()
        self._queue.requeue(flying, retry=False)
        self._queue.unpark(held)
        if self._reclaimer is not None:
            self._reclaimer = None

    async def _claim(self) -> int:
        spool, queue = self._spool, self._queue
        assert spool is not None
        room = self._max_queue - queue.stats().queued
        if room <= 0:
            self._backlog = True
            return 0
        events = await spool.claim(room)
        await self._push_claimed(events)
        self._backlog = len(events) == room
        return len(events)

    async def _reclaim_forever(self) -> None:
        # Events of a sibling process that died are taken over while we run.
        lease = getattr(self._spool, "lease", 30.0)
        while True:
            await asyncio.sleep(float(lease) / 3)
            try:
                await self._claim()
            except Exception as exc:  # noqa: BLE001 (logged; tried again next time)
                self._reporter._warn("spool", [], f"not claimed from the spool ({exc})")

    # -- flush and close ---------------------------------------------------------------

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

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every event enqueued before this call is settled.

        Settled means delivered, failed (``on_error``), outcome unknown (``on_error``) or
        dropped (``on_drop``). With a spool, events recovered from an earlier run are
        waited for too. ``timeout`` (seconds) raises ``TimeoutError`` when it runs out;
        the events keep going.
        """
        await self._start()
        if timeout is None:
            await self._drain()
        else:
            await asyncio.wait_for(self._drain(), timeout)

    async def _settled(self) -> None:
        target = self._queue.new_epoch()
        if self._queue.settled_through(target):
            return
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        self._flushers.append((target, future))
        self._queue.urgent = True
        self._wake()
        await future

    async def _drain(self) -> None:
        if self._stream:
            await self._drain_stream()
            return
        while True:
            await self._settled()
            if self._spool is None or not self._backlog or self._closing:
                return
            await self._claim()

    async def aclose(self) -> None:
        """Deliver everything queued, then stop; safe to call twice, from any loop.

        Returns once every event is delivered or settled for good, for as long as
        delivery makes progress. With ``shutdown_timeout`` set, it gives up after that
        long without progress: what was never sent is reported to ``on_drop``
        (``"shutdown"``), what may have been applied to ``on_error`` (outcome unknown),
        and with a spool both stay in the spool for the next run instead.
        """
        old = self._loop
        loop = asyncio.get_running_loop()
        if old is not None and old is not loop and old.is_running():
            # Closed from another loop: the batcher's own loop does it.
            future = asyncio.run_coroutine_threadsafe(self._aclose(self.shutdown_timeout), old)
            await asyncio.wrap_future(future)
            return
        await self._aclose(self.shutdown_timeout)

    async def _aclose(self, stall: float | None, total: float | None = None) -> None:
        if self._closed:
            return
        if self._closing:
            assert self._closed_event is not None
            await self._closed_event.wait()
            return
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            await self._start()  # its loop is gone: deliver on this one
        self._closing = True
        self._closed_event = asyncio.Event()
        try:
            if self._loop is None:
                self._queue.close()
                if self._spool is not None:
                    await self._spool.close()
                return
            loop = asyncio.get_running_loop()
            end = None if total is None else loop.time() + total
            await self._drain_while_progress(stall, total)
            await self._stop(None if end is None else max(0.2, end - loop.time()))
        finally:
            self._closed = True
            self._closed_event.set()

    async def _drain_while_progress(self, stall: float | None, total: float | None) -> bool:
        """Wait until everything is settled; ``True`` if it stopped making progress."""
        loop = asyncio.get_running_loop()
        end = None if total is None else loop.time() + total
        while True:
            before = self._progress()
            wait = stall
            if end is not None:
                left = end - loop.time()
                if left <= 0:
                    return True
                wait = left if wait is None else min(wait, left)
            try:
                settling = self._drain_stream() if self._stream else self._settled()
                await asyncio.wait_for(settling, wait)
            except asyncio.TimeoutError:
                if end is not None and loop.time() >= end:
                    return True
                if self._progress() == before:
                    return True
                continue
            return False

    def _progress(self) -> tuple[int, int]:
        # A request starting or ending is progress too: a slow server is not a stalled one.
        stats = self._queue.stats()
        settled = stats.delivered + stats.failed + stats.outcome_unknown + stats.dropped
        return settled, self._dispatcher.activity

    async def _stop(self, bound: float | None) -> None:
        dispatcher, queue, reporter = self._dispatcher, self._queue, self._reporter
        dispatcher.stopping = True
        await dispatcher.stop_taking()
        if self._reclaimer is not None:
            self._reclaimer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reclaimer
            self._reclaimer = None
        flying = dispatcher.in_flight()
        if flying:
            # Each is one attempt, bounded by its timeout: its answer decides, not a guess.
            _done, pending = await asyncio.wait(flying, timeout=bound)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        queue.close()
        held = [*dispatcher.orphans, *dispatcher.unpark_all()]
        dispatcher.orphans = []
        queue.fly(held)
        left = held + queue.drain_all()
        spool = self._spool
        if spool is not None:
            reporter.spooled(left)
            await reporter.spool_settled()
            with contextlib.suppress(Exception):
                await self._release(spool, left)
            await spool.close()
        else:
            cause = APIConnectionError(
                "the batcher was closed while an earlier attempt of this event was "
                "unanswered (shutdown_timeout ran out without progress)",
                maybe_applied=True,
            )
            for event in left:
                if event.maybe_applied_at is not None:
                    reporter.unknown([event], cause)
                else:
                    reporter.dropped(event, "shutdown")
        for _target, future in self._flushers:
            if not future.done():
                future.set_result(None)
        reporter.totals_at_close(handed_back=self._stream)

    async def _release(self, spool: Spool, left: list[QueuedEvent]) -> None:
        keys = [event.key for event in left]
        if not self._stream:
            await spool.release(keys)
            return
        # A shared stream counts deliveries towards poison: only events sent at least
        # once keep theirs (a clean hand-back of the others is no delivery attempt).
        attempted = [e.key for e in left if e.attempts or e.maybe_applied_at is not None]
        stream: Any = spool
        await stream.release(keys, attempted=attempted)

    async def _hand_back(self, drain: float) -> None:
        """A fleet worker's stop: claim nothing more, let requests in flight finish for
        up to ``drain`` seconds, hand every unsettled event back to the spool at once."""
        if self._closing or self._loop is None:
            await self._aclose(self.shutdown_timeout)
            return
        self._closing = True
        self._closed_event = asyncio.Event()
        try:
            if self._reclaimer is not None:
                await asyncio.wait([self._reclaimer])  # stops within _CLAIM_WAIT
                self._reclaimer = None
            await self._stop(drain)
        finally:
            self._closed = True
            self._closed_event.set()

    async def __aenter__(self) -> AsyncUsageBatcher:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self, _warnings: Any = warnings) -> None:
        if getattr(self, "_loop", None) is not None and not getattr(self, "_closed", True):
            _warnings.warn(
                f"{self!r} was never closed; use 'async with' or 'await aclose()'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def _after_fork_in_child(self) -> None:
        # The parent's events, tasks and loop are the parent's: the child starts empty.
        # Tasks and futures are only dropped, never cancelled (that would touch the
        # inherited loop, whose epoll set the parent still uses).
        dispatcher = self._dispatcher
        abandon((dispatcher, dispatcher.tasks, dispatcher.parked, self._flushers, self._reclaimer))
        closed = self._closed
        if self._spool is not None:
            self._spool.after_fork_in_child()
        self._fresh_state()
        self._closed = self._closing = closed


class BlockingFace:
    """What the sync twin (``autumn_sync.UsageBatcher``) needs of the batcher it wraps.

    The sync batcher tracks in its callers' threads (no hop to the loop), starts the
    batcher again in a forked child, and closes it within a budget at interpreter exit;
    this is the whole of what it uses beyond the public surface. Internal: application
    code uses the batchers themselves.
    """

    __slots__ = ("_batcher",)

    def __init__(self, batcher: AsyncUsageBatcher) -> None:
        self._batcher = batcher

    @property
    def started(self) -> bool:
        """Whether the batcher runs on a loop: ``False`` before its start and in a forked
        child (whose batcher starts empty, on the child's own loop)."""
        return self._batcher._loop is not None

    def track(self, **arguments: Any) -> None:
        """``track`` in the caller's thread: validate, queue (and spool) the event, return.

        Blocks only for room under ``overflow="block"`` (and a spool's ``put_blocking``);
        a call from the batcher's own loop thread is a ``UsageError`` (it could deadlock).
        """
        self._batcher._track_threadsafe(**arguments)

    async def close_within(self, total: float) -> None:
        """Close as ``aclose()`` does, but stop after ``total`` seconds in all: what is
        left then is reported (``on_drop``/``on_error``) or stays in the spool."""
        batcher = self._batcher
        await batcher._aclose(batcher.shutdown_timeout, total=total)


def _after_fork_in_child() -> None:
    for batcher in list(_live):
        batcher._after_fork_in_child()


#: What an async batcher left open may take at interpreter exit, in seconds.
EXIT_BUDGET = 4.0


_exit_logger = sdk_logger("batcher")


def _close_unclosed_at_exit() -> None:
    """Interpreter exit: an async batcher whose loop has ended delivers what it holds.

    Its events go out on a fresh loop within :data:`EXIT_BUDGET` seconds; what is left
    then is reported (``on_drop`` / ``on_error``) or stays in the spool. A batcher whose
    loop still runs (the sync client's) is closed by its owner.
    """
    for batcher in list(_live):
        loop = batcher._loop
        if loop is None or batcher._closed or batcher._closing or loop.is_running():
            continue
        try:
            asyncio.run(batcher._aclose(batcher.shutdown_timeout, total=EXIT_BUDGET))
        except Exception:
            _exit_logger.warning("usage batcher: closing at interpreter exit failed", exc_info=True)


atexit.register(_close_unclosed_at_exit)


register("batchers", after_in_child=_after_fork_in_child)


publish(globals(), ("AsyncUsageBatcher",))


class WorkerFace:
    """What the fleet worker (``python -m autumn_async.fleet run``) needs of its batcher
    beyond the public surface: a stop that hands work back rather than finishing it.
    Internal: application code closes batchers with ``aclose()``.
    """

    __slots__ = ("_batcher",)

    def __init__(self, batcher: AsyncUsageBatcher) -> None:
        self._batcher = batcher

    async def hand_back(self, drain: float) -> None:
        """Claim nothing more, let requests in flight finish for up to ``drain`` seconds,
        then hand every unsettled event back to the spool at once (a peer takes it)."""
        await self._batcher._hand_back(drain)
