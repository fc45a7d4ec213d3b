"""``AsyncUsageBatcher``: high-volume usage tracking with exactly-once delivery.

``track`` validates the event, gives it its idempotency key, writes it to the spool if
there is one, and queues it; a dispatcher task on the event loop sends batches through
the client's pipeline (:mod:`._batch_send`). The queue is shared with caller threads
(:mod:`._batch_queue`), so the sync ``UsageBatcher`` enqueues without a hop to the loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ._batch_lifecycle import Lifecycle
from ._batch_queue import EventQueue
from ._checks import new_key
from ._coalesce import BatcherStats, QueuedEvent, UsageEvent, is_coalescable
from ._config import NOT_GIVEN, NotGiven, Timeout
from ._errors import UsageError
from ._fork import abandon
from ._log import sdk_logger
from ._requests import build_track
from ._retry import RetryConfig
from ._spool import Spool

if TYPE_CHECKING:
    from ._client import AsyncAutumn

__all__ = ["AsyncUsageBatcher"]

logger = sdk_logger("batcher")

Overflow = Literal["block", "drop_newest", "drop_oldest"]
Mode = Literal["track", "batch_track"]
OnError = Callable[[UsageEvent, BaseException], object]
OnDrop = Callable[[UsageEvent, str], object]

#: ``balances.batch_track`` takes at most this many events per request (spec §13).
BATCH_TRACK_LIMIT = 1000
_DEFAULT_BATCH = {"track": 100, "batch_track": BATCH_TRACK_LIMIT}

_live: weakref.WeakSet[AsyncUsageBatcher] = weakref.WeakSet()


def _positive(value: object, field: str, *, integer: bool) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise UsageError(f"{field} must be {kind}, got {value!r}", field=field)


class AsyncUsageBatcher(Lifecycle):
    """Queue usage events and deliver them in the background, each exactly once.

    Get one with ``autumn.batcher(**options)`` and use it as ``async with`` or call
    :meth:`aclose`: it registers nothing global, so a batcher never closed loses what it
    still holds (unless it has a spool). Options:

    - ``mode``: ``"track"`` (one ``balances.track`` per event, every server) or
      ``"batch_track"`` (``POST /v1/balances.batch_track``, up to 1,000 per request);
    - ``max_batch_size`` (default 100, or 1,000 in ``batch_track``) and
      ``flush_interval`` (seconds): a batch leaves when full or when its oldest event
      has waited that long; ``max_concurrency`` bounds requests in flight;
    - ``max_queue`` bounds events held in memory; when full, ``overflow`` decides:
      ``"block"`` (``track`` waits, up to ``block_timeout`` seconds, then drops),
      ``"drop_newest"`` or ``"drop_oldest"``. Every drop calls ``on_drop(event, reason)``
      and logs a warning on the ``autumn_balances.batcher`` logger;
    - ``coalesce=True`` sums plain counter events (same customer, feature or event name
      and entity, no properties, no caller key) into one event per batch;
    - ``spool_path``: an SQLite file; an event is on disk before ``track`` returns and is
      resent under the same key after a crash (by this or another process);
    - ``on_error(event, error)``: called for an event Autumn refused for good (a 4xx);
    - ``shutdown_timeout``: how long closing may take to deliver what is left;
    - ``retries`` and ``timeout``: per request, as for ``balances.track``.

    Every event gets its idempotency key when it is enqueued and keeps it on every
    resend; a duplicate-key answer for it counts as delivered. Callbacks run on the
    event loop's thread (``on_drop`` also on a caller's thread): keep them short.
    """

    def __init__(
        self,
        client: AsyncAutumn,
        *,
        mode: Mode = "track",
        max_batch_size: int | None = None,
        flush_interval: float = 1.0,
        max_concurrency: int = 8,
        max_queue: int = 100_000,
        overflow: Overflow = "block",
        block_timeout: float | None = None,
        coalesce: bool = False,
        spool_path: str | os.PathLike[str] | None = None,
        spool_lease: float = 30.0,
        on_error: OnError | None = None,
        on_drop: OnDrop | None = None,
        shutdown_timeout: float = 5.0,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> None:
        if mode not in _DEFAULT_BATCH:
            raise UsageError(f"mode must be 'track' or 'batch_track', got {mode!r}", field="mode")
        size = _DEFAULT_BATCH[mode] if max_batch_size is None else max_batch_size
        _positive(size, "max_batch_size", integer=True)
        if mode == "batch_track" and size > BATCH_TRACK_LIMIT:
            raise UsageError("max_batch_size is at most 1000 in batch_track mode", field="mode")
        _positive(flush_interval, "flush_interval", integer=False)
        _positive(max_concurrency, "max_concurrency", integer=True)
        if max_concurrency > client.max_connections:
            # Requests past the pool size wait for a connection or open a new one each
            # time (a TLS handshake against the real API): never what anyone wants.
            raise UsageError(
                f"max_concurrency={max_concurrency} exceeds the client's "
                f"max_connections={client.max_connections}; raise max_connections",
                field="max_concurrency",
            )
        _positive(max_queue, "max_queue", integer=True)
        _positive(shutdown_timeout, "shutdown_timeout", integer=False)
        _positive(spool_lease, "spool_lease", integer=False)
        if overflow not in ("block", "drop_newest", "drop_oldest"):
            raise UsageError(f"unknown overflow policy {overflow!r}", field="overflow")
        if block_timeout is not None:
            _positive(block_timeout, "block_timeout", integer=False)
        for name, callback in (("on_error", on_error), ("on_drop", on_drop)):
            if callback is not None and not callable(callback):
                raise UsageError(f"{name} must be callable", field=name)
        self._client = client
        self.mode: Mode = mode
        self.flush_interval = float(flush_interval)
        self.max_concurrency = max_concurrency
        self.overflow: Overflow = overflow
        self.block_timeout = block_timeout
        self.coalesce = bool(coalesce)
        self.shutdown_timeout = float(shutdown_timeout)
        self._on_error, self._on_drop = on_error, on_drop
        self._retries, self._timeout = retries, timeout
        self._max_queue, self._batch_size = max_queue, size
        self._spool = Spool(spool_path, lease=spool_lease) if spool_path is not None else None
        self._drops_unlogged = 0
        self._drop_logged_at = 0.0
        self._fresh_state()
        _live.add(self)

    def _fresh_state(self) -> None:
        # Everything bound to one process and one event loop (reset in a forked child).
        self._queue = EventQueue(self._max_queue, self._batch_size, self._wake)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wakeup = asyncio.Event()
        self._slots: asyncio.Semaphore | None = None
        self._background: list[asyncio.Task[None]] = []
        self._tasks: dict[asyncio.Task[None], list[QueuedEvent]] = {}
        self._parked: dict[object, tuple[asyncio.TimerHandle, list[QueuedEvent]]] = {}
        self._orphans: list[QueuedEvent] = []
        self._flushers: list[tuple[int, asyncio.Future[None]]] = []
        self._space_waiters: list[asyncio.Future[None]] = []
        self._backlog = False
        self._closing = self._closed = False

    def __repr__(self) -> str:
        return f"AsyncUsageBatcher(mode={self.mode!r}, stats={self.stats!r})"

    @property
    def stats(self) -> BatcherStats:
        """Counters in tracked events: enqueued, delivered, failed, dropped, retried ..."""
        return self._queue.stats()

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

        Returns once the event is queued (and on disk, with a spool); it is sent in the
        background. A bad argument raises ``UsageError`` here, before anything is queued.
        Waits only under ``overflow="block"`` with a full queue.
        """
        if self._loop is None or self._loop_thread != threading.get_ident():
            await self._start()
        event = self._event(
            customer_id=customer_id,
            feature_id=feature_id,
            event_name=event_name,
            value=value,
            properties=properties,
            idempotency_key=idempotency_key,
            entity_id=entity_id,
        )
        if not await self._reserve(event):
            return
        if self._spool is not None:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._spool.insert([(event.key, _dumps(event.body))], future)
            try:
                await asyncio.shield(future)
            except asyncio.CancelledError:
                # The insert goes on without us: queue the event once it is on disk.
                future.add_done_callback(lambda f: self._after_insert(f, event))
                raise
            except BaseException:
                self._queue.unreserve()
                raise
        self._queue.push(event)

    def _after_insert(self, future: asyncio.Future[Any], event: QueuedEvent) -> None:
        if future.cancelled() or future.exception() is not None:
            self._queue.unreserve()
        else:
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
    ) -> QueuedEvent:
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
        coalescable = self.coalesce and is_coalescable(body, caller_key=idempotency_key is not None)
        return QueuedEvent(body["idempotency_key"], body, 0, coalescable=coalescable)

    async def _reserve(self, event: QueuedEvent) -> bool:
        queue = self._queue
        ok, evicted = queue.try_reserve(evict=self.overflow == "drop_oldest")
        if evicted is not None:
            self._evicted(evicted)
        if ok:
            return True
        if self.overflow == "drop_newest":
            self._reject(event, "queue_full")
            return False
        loop = asyncio.get_running_loop()
        deadline = None if self.block_timeout is None else loop.time() + self.block_timeout
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            self._space_waiters.append(waiter)
            left = None if deadline is None else deadline - loop.time()
            try:
                await asyncio.wait_for(waiter, left)
            except asyncio.TimeoutError:
                self._reject(event, "block_timeout")
                return False
            ok, _ = queue.try_reserve(evict=False)
            if ok:
                return True

    def _track_threadsafe(self, **arguments: Any) -> None:
        """The sync batcher's ``track``, in the caller's thread: no hop to the loop.

        Blocks the caller only for the spool commit, or for room under ``"block"``.
        """
        if threading.get_ident() == self._loop_thread:
            raise UsageError(
                "a blocking batcher.track was called on the batcher's own event-loop thread "
                "(for example from on_error or on_drop); it could deadlock"
            )
        event = self._event(**arguments)
        queue = self._queue
        ok, evicted = queue.try_reserve(evict=self.overflow == "drop_oldest")
        if evicted is not None:
            self._evicted(evicted)
        if not ok:
            if self.overflow == "drop_newest":
                self._reject(event, "queue_full")
                return
            if not queue.reserve_blocking(self.block_timeout):
                self._reject(event, "block_timeout")
                return
        if self._spool is not None:
            import concurrent.futures  # noqa: PLC0415 (cheap; only the sync path needs it)

            done: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self._spool.insert([(event.key, _dumps(event.body))], done)
            try:
                done.result()
            except BaseException:
                queue.unreserve()
                raise
        queue.push(event)

    # -- drops -------------------------------------------------------------------------

    def _evicted(self, event: QueuedEvent) -> None:
        if self._queue.settle_evicted(event):
            self._flushers_changed()
        if self._spool is not None:
            self._spool.delete([event.key])
        self._report_drop(event, "queue_full")

    def _reject(self, event: QueuedEvent, reason: str) -> None:
        self._queue.count_rejected()
        if self._spool is not None:
            self._spool.delete([event.key])
        self._report_drop(event, reason)

    def _report_drop(self, event: QueuedEvent, reason: str) -> None:
        # One warning per second at most, with the count: a drop storm must not turn
        # into a logging storm.
        self._drops_unlogged += event.count
        now = time.monotonic()
        if now - self._drop_logged_at >= 1.0:
            logger.warning(
                "usage batcher dropped %d event(s) (%s); last: customer %r, key %r",
                self._drops_unlogged,
                reason,
                event.body.get("customer_id"),
                event.key,
            )
            self._drops_unlogged, self._drop_logged_at = 0, now
        if self._on_drop is not None:
            try:
                self._on_drop(event.public(), reason)
            except Exception:
                logger.warning("the batcher's on_drop callback failed", exc_info=True)

    def _report_error(self, event: QueuedEvent, error: BaseException) -> None:
        logger.warning("usage event %r refused for good: %s", event.key, error)
        if self._on_error is not None:
            try:
                self._on_error(event.public(), error)
            except Exception:
                logger.warning("the batcher's on_error callback failed", exc_info=True)

    # -- lifecycle ---------------------------------------------------------------------

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
        abandon((self._background, self._tasks, self._parked, self._flushers))
        closed = self._closed
        self._fresh_state()
        self._closed = self._closing = closed
        if self._spool is not None:
            self._spool.after_fork_in_child()


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), allow_nan=False)


def _after_fork_in_child() -> None:
    for batcher in list(_live):
        batcher._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork_in_child)
