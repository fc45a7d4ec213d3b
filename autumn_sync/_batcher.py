"""``UsageBatcher``: the blocking face of :class:`autumn_async.AsyncUsageBatcher`.

Delivery runs on the sync shim's private event loop. ``track`` does not go there: it
validates and enqueues in the caller's thread (the queue is thread-safe) and returns,
so a request thread pays microseconds per event, not a loop round trip. With a spool,
the caller's thread also appends the event to the spool's log: durable on return.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from autumn_async._batcher import (
    DEFAULT_MAX_ATTEMPTS,
    AsyncUsageBatcher,
    BatcherStats,
    BlockingFace,
    Mode,
    OnDrop,
    OnError,
    Overflow,
    Spool,
)
from autumn_async._config import NOT_GIVEN, NotGiven, Timeout
from autumn_async._process_bound import ProcessBound
from autumn_async._public import publish

from . import _portal

if TYPE_CHECKING:
    from autumn_async import AsyncAutumn, RetryConfig

__all__ = ["UsageBatcher"]

#: Part of the portal's per-callback exit budget the drain may use (the rest stops it).
_EXIT_SHARE = 0.8
#: What a batcher left open may take at interpreter exit, in seconds.
EXIT_BUDGET = _portal.SHUTDOWN_CALLBACK_TIMEOUT * _EXIT_SHARE


class UsageBatcher(ProcessBound):
    """Queue usage events from any thread and deliver them in the background.

    Get one with ``autumn.batcher(...)`` (same options as
    :class:`autumn_async.AsyncUsageBatcher`). Use it as ``with autumn.batcher() as b:``
    or call :meth:`close`, which returns once every event is delivered or settled for
    good, for as long as delivery makes progress. A batcher left open is closed at
    interpreter exit within :data:`EXIT_BUDGET` seconds (4 s): what is left then is
    reported to ``on_drop``/``on_error``, or stays in the spool. After ``os.fork()``
    the child's batcher starts empty and delivers only the child's events.
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
        self._batcher = batcher = AsyncUsageBatcher(
            client,
            mode=mode,
            max_batch_size=max_batch_size,
            flush_interval=flush_interval,
            max_concurrency=max_concurrency,
            max_requests_per_second=max_requests_per_second,
            max_queue=max_queue,
            overflow=overflow,
            block_timeout=block_timeout,
            max_attempts=max_attempts,
            coalesce=coalesce,
            spool_path=spool_path,
            spool=spool,
            spool_lease=spool_lease,
            deliver=deliver,
            on_error=on_error,
            on_drop=on_drop,
            shutdown_timeout=shutdown_timeout,
            retries=retries,
            timeout=timeout,
        )
        self._face = BlockingFace(batcher)
        # Imports the HTTP stack off the loop: done lazily on the loop, it stalls it.
        _portal.run(client.warm_up())
        _portal.run(batcher.__aenter__())
        _portal.register_shutdown(self._at_exit)

    def __repr__(self) -> str:
        # Shown by tracebacks rendered with locals even when __init__ raised: never fail.
        # The async batcher is assigned only once it is built.
        batcher = self.__dict__.get("_batcher")
        if batcher is None:
            return "UsageBatcher(<not built>)"
        return f"UsageBatcher(mode={batcher.mode!r}, stats={self.stats!r})"

    @property
    def stats(self) -> BatcherStats:
        """Counters in tracked events (see :class:`BatcherStats`); they always add up."""
        return self._batcher.stats

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has finished."""
        return self._batcher.closed

    def track(
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
        """Queue one usage event from any thread; the arguments are those of ``balances.track``.

        Returns at once (with a spool, once the event is durable); blocks only under
        ``overflow="block"`` with a full queue. A bad argument, including properties
        that cannot be sent as JSON, raises ``UsageError`` and queues nothing.
        """
        face = self._face
        if not face.started:  # a forked child: start again on its own loop
            _portal.run(self._batcher.__aenter__())
        face.track(
            customer_id=customer_id,
            feature_id=feature_id,
            event_name=event_name,
            value=value,
            properties=properties,
            idempotency_key=idempotency_key,
            entity_id=entity_id,
        )

    def flush(self, timeout: float | None = None) -> None:
        """Block until every event tracked before this call is delivered or settled.

        ``timeout`` (seconds) raises ``TimeoutError`` when it runs out; delivery goes on.
        """
        _portal.run(self._batcher.flush(timeout))

    def close(self) -> None:
        """Block until every event is delivered or settled for good, then stop.

        Waits for as long as delivery makes progress (``shutdown_timeout`` bounds a
        stall, not the total). Safe to call twice.
        """
        _portal.run(self._batcher.aclose())
        _portal.unregister_shutdown(self._at_exit)

    async def _at_exit(self) -> None:
        await self._face.close_within(EXIT_BUDGET)

    def __enter__(self) -> UsageBatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


publish(globals(), ("UsageBatcher",), "autumn_sync")
