"""The batcher's lifecycle: start on a loop, spool recovery, flush and close.

Closing drains within a bound and then accounts for every event it could not deliver:
without a spool they are reported dropped (``on_drop`` with reason ``"shutdown"``; one
cut short in flight may have been applied); with a spool they stay on disk, released so
that the next batcher on the file resends them at once under the same keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any

from ._batch_send import Delivery
from ._coalesce import QueuedEvent
from ._errors import UsageError
from ._log import sdk_logger
from ._spool import Spool

__all__ = ["Lifecycle"]

logger = sdk_logger("batcher")


class Lifecycle(Delivery):
    """Start, recovery, flush and close of :class:`AsyncUsageBatcher`."""

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        if self._closing:
            raise UsageError("this batcher is closed; create a new one")
        if self._loop is not None:
            raise UsageError("this batcher runs on another event loop; create one per loop")
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_concurrency)
        self._background.append(loop.create_task(self._dispatch()))
        if self._spool is not None:
            await self._claim()  # what an earlier run left: flush() waits for it too
            self._background.append(loop.create_task(self._reclaim_forever(self._spool)))

    # -- spool recovery ----------------------------------------------------------------

    async def _claim(self) -> int:
        spool, queue = self._spool, self._queue
        assert spool is not None
        room = self._max_queue - queue.stats().queued
        if room <= 0:
            self._backlog = True
            return 0
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        spool.claim(room, future)
        rows: list[tuple[str, str]] = await future
        for key, body in rows:
            event = QueuedEvent(key, json.loads(body), 0, coalescable=False)
            queue.push(event, reserved=False, recovered=True)
        self._backlog = len(rows) == room
        return len(rows)

    async def _reclaim_forever(self, spool: Spool) -> None:
        # Rows of a sibling process that died are taken over while we run.
        while True:
            await asyncio.sleep(spool.lease / 3)
            await self._claim()

    # -- flush and close ---------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every event enqueued before this call is delivered or settled.

        Settled means delivered, failed for good (``on_error``) or dropped. With a spool,
        events recovered from an earlier run are waited for too. ``timeout`` (seconds)
        raises ``TimeoutError`` when it runs out; the events keep going.
        """
        await self._start()
        if timeout is None:
            await self._drain()
        else:
            await asyncio.wait_for(self._drain(), timeout)

    async def _drain(self) -> None:
        while True:
            target = self._queue.new_epoch()
            if not self._queue.settled_through(target):
                assert self._loop is not None
                future: asyncio.Future[None] = self._loop.create_future()
                self._flushers.append((target, future))
                self._queue.urgent = True
                self._wake()
                await future
            spool = self._spool
            if spool is None:
                return
            if not self._backlog or self._closed:
                # Spool operations run in order: once this no-op is committed, so are the
                # deletions of everything settled above.
                barrier: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                spool.submit(lambda _conn: None, barrier)
                await barrier
                return
            await self._claim()

    async def aclose(self) -> None:
        """Deliver what is queued within ``shutdown_timeout``, then stop; safe to call twice.

        What cannot be delivered in time is reported through ``on_drop`` (reason
        ``"shutdown"``), except with a spool, where it stays on disk for the next run.
        """
        await self._aclose(self.shutdown_timeout)

    async def _aclose(self, drain_timeout: float) -> None:
        if self._closed or self._closing:
            return
        self._closing = True
        if self._loop is None:
            self._closed = True
            self._queue.close()
            if self._spool is not None:
                await asyncio.to_thread(self._spool.close)
            return
        try:
            await asyncio.wait_for(self._drain(), drain_timeout)
        except asyncio.TimeoutError:
            logger.warning("usage batcher: shutdown_timeout ran out with events left")
        finally:
            await self._stop()

    async def _stop(self) -> None:
        self._closed = True
        queue = self._queue
        queue.close()
        self._notify_space()
        tasks = [*self._background, *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        left = [*self._orphans, *queue.drain_all()]
        for handle, events in self._parked.values():
            handle.cancel()
            queue.unpark(events)
        self._parked.clear()
        left += queue.drain_all()
        for _target, future in self._flushers:
            if not future.done():
                future.set_result(None)
        spool = self._spool
        if spool is not None:
            if left:
                logger.warning(
                    "usage batcher: %d event(s) left in the spool for the next run",
                    sum(event.count for event in left),
                )
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            spool.release(done)  # the next batcher on this file takes them over at once
            with contextlib.suppress(Exception):
                await done
            await asyncio.to_thread(spool.close)
            return
        for event in left:
            queue.settle(event, "dropped")
            self._report_drop(event, "shutdown")
