"""``UsageBatcher``: the blocking face of :class:`autumn_async.AsyncUsageBatcher`.

Delivery runs on the sync shim's private event loop. ``track`` does not go there: it
validates and enqueues in the caller's thread (the queue is thread-safe) and returns,
so a request thread pays microseconds per event, not a loop round trip. With a spool,
the caller's thread also waits for the event's commit, which is the durability promise.
An un-closed batcher is drained at interpreter exit, within ``shutdown_timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from autumn_async._batcher import AsyncUsageBatcher
from autumn_async._coalesce import BatcherStats
from autumn_async._public import publish

from . import _portal

if TYPE_CHECKING:
    from autumn_async import AsyncAutumn

__all__ = ["UsageBatcher"]

#: Part of the portal's per-callback exit budget the drain may use (the rest stops it).
_EXIT_SHARE = 0.8


class UsageBatcher:
    """Queue usage events from any thread and deliver them in the background.

    Same options and guarantees as :class:`autumn_async.AsyncUsageBatcher` (get one with
    ``autumn.batcher(**options)``). Use it as ``with`` or call :meth:`close`; a batcher
    left open is flushed at interpreter exit within ``shutdown_timeout`` (at most the
    sync shim's per-callback exit budget). After ``os.fork()`` the child's batcher starts
    empty and delivers only the child's events.
    """

    def __init__(self, client: AsyncAutumn, **options: Any) -> None:
        self._batcher = batcher = AsyncUsageBatcher(client, **options)
        # Imports the HTTP stack off the loop: done lazily on the loop, it stalls it.
        _portal.run(client.warm_up())
        _portal.run(batcher.__aenter__())
        _portal.register_shutdown(self._at_exit)

    def __repr__(self) -> str:
        return f"UsageBatcher(mode={self._batcher.mode!r}, stats={self.stats!r})"

    @property
    def stats(self) -> BatcherStats:
        """Counters in tracked events: enqueued, delivered, failed, dropped, retried ..."""
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
        """Queue one usage event; the arguments are those of ``balances.track``.

        Returns at once (after the spool commit, with a spool); waits only under
        ``overflow="block"`` with a full queue. A bad argument raises ``UsageError``.
        """
        batcher = self._batcher
        if batcher._loop is None:  # a forked child: start again on its own loop
            _portal.run(batcher.__aenter__())
        batcher._track_threadsafe(
            customer_id=customer_id,
            feature_id=feature_id,
            event_name=event_name,
            value=value,
            properties=properties,
            idempotency_key=idempotency_key,
            entity_id=entity_id,
        )

    def flush(self, timeout: float | None = None) -> None:
        """Block until every event enqueued before this call is delivered or settled."""
        _portal.run(self._batcher.flush(timeout))

    def close(self) -> None:
        """Deliver what is queued within ``shutdown_timeout``, then stop; safe to call twice."""
        _portal.run(self._batcher.aclose())
        _portal.unregister_shutdown(self._at_exit)

    async def _at_exit(self) -> None:
        budget = _portal.SHUTDOWN_CALLBACK_TIMEOUT * _EXIT_SHARE
        await self._batcher._aclose(min(self._batcher.shutdown_timeout, budget))

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
