"""The usage batcher: queue, dispatcher, events, the ``Spool`` protocol and its SQLite spool."""

from ._batcher import DEFAULT_MAX_ATTEMPTS, AsyncUsageBatcher, BlockingFace, WorkerFace
from ._dispatch import Mode
from ._events import BatcherStats, UsageEvent
from ._queue import Overflow
from ._report import OnDrop, OnError
from ._spool import (
    Spool,
    SpooledEvent,
    SpoolError,
    SpoolFullError,
    SpoolUnavailableError,
    account_fingerprint,
)
from ._sqlite import SQLiteSpool

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "AsyncUsageBatcher",
    "BatcherStats",
    "BlockingFace",
    "Mode",
    "OnDrop",
    "OnError",
    "Overflow",
    "SQLiteSpool",
    "Spool",
    "SpoolError",
    "SpoolFullError",
    "SpoolUnavailableError",
    "SpooledEvent",
    "UsageEvent",
    "WorkerFace",
    "account_fingerprint",
]
