"""The delivery worker: claim batches from the spool, send them, settle them.

Up to ``concurrency`` batches are in flight. A batch that Autumn could not take yet (no
answer, 429, a gateway error) stays claimed and is resent after a backoff; its lease is
kept alive by the spool's heartbeat. On stop (SIGTERM) the worker claims nothing more,
lets requests in flight finish for up to ``drain_timeout`` seconds, then hands every
unsettled event back to the stream so a peer resends it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Protocol

import attrs

from autumn_async._log import sdk_logger

from ._codec import MAX_EVENTS
from ._deliver import SendBatch, deliver
from ._spool import SpooledEvent

__all__ = ["run_worker"]

logger = sdk_logger("fleet")

#: Longest wait between resends of a batch Autumn could not take (seconds).
MAX_BACKOFF = 30.0


class _Spool(Protocol):
    async def claim(self, limit: int, *, wait: float = 0.0) -> list[SpooledEvent]: ...

    async def settle(
        self,
        keys: list[str],
        *,
        dead: dict[str, str] | None = None,
        duplicates: list[str] = ...,
    ) -> None: ...

    async def release(self, keys: list[str]) -> None: ...


@attrs.define
class _Batch:
    events: list[SpooledEvent]
    attempts: int = 0


async def run_worker(
    spool: _Spool,
    send: SendBatch,
    *,
    stop: asyncio.Event,
    concurrency: int = 4,
    drain_timeout: float = 10.0,
    claim_wait: float = 1.0,
) -> None:
    """Deliver until ``stop`` is set, then drain and hand back what is left."""
    batches: dict[asyncio.Task[None], _Batch] = {}
    stopping = asyncio.get_running_loop().create_task(stop.wait())
    try:
        while not stop.is_set():
            if len(batches) >= concurrency:
                await asyncio.wait([stopping, *batches], return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                events = await spool.claim(MAX_EVENTS, wait=claim_wait)
            except Exception as exc:  # noqa: BLE001 (Redis away: keep trying until stopped)
                logger.warning("cannot claim usage from the spool: %s", exc)
                await _pause(stop, claim_wait)
                continue
            if not events:
                continue
            batch = _Batch(events)
            task = asyncio.get_running_loop().create_task(_run(spool, send, batch, stop))
            batches[task] = batch
            task.add_done_callback(lambda t: batches.pop(t, None) and None)
    finally:
        stopping.cancel()
        await _drain(spool, batches, drain_timeout)


async def _run(spool: _Spool, send: SendBatch, batch: _Batch, stop: asyncio.Event) -> None:
    while batch.events and not stop.is_set():
        outcome = await deliver(send, batch.events)
        batch.events = outcome.retry
        settled = outcome.delivered + outcome.duplicates
        if settled or outcome.dead:
            try:
                await spool.settle(settled, dead=outcome.dead, duplicates=outcome.duplicates)
            except Exception as exc:  # noqa: BLE001 (kept by the spool, settled on its next call)
                logger.warning("cannot settle delivered usage yet: %s", exc)
        if batch.events:
            batch.attempts += 1
            wait = random.uniform(0, min(MAX_BACKOFF, 0.5 * 2**batch.attempts))
            wait = max(wait, min(outcome.retry_after or 0.0, MAX_BACKOFF))
            logger.warning("Autumn could not take %d events (%s); resending in %.1fs",
                           len(batch.events), outcome.retry_reason or "no reason given",
                           wait)  # fmt: skip
            await _pause(stop, wait)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _drain(
    spool: _Spool, batches: dict[asyncio.Task[None], _Batch], drain_timeout: float
) -> None:
    batches = dict(batches)  # a task leaves the live dict when done; its leftovers count
    tasks = list(batches)
    if tasks:
        _done, late = await asyncio.wait(tasks, timeout=drain_timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    left = [event.key for batch in batches.values() for event in batch.events]
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            logger.error("delivery failed", exc_info=task.exception())
    try:
        await spool.release(left)
    except Exception as exc:  # noqa: BLE001 (peers reclaim them after the lease instead)
        logger.warning("cannot hand %d events back: %s", len(left), exc)
