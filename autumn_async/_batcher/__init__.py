"""The usage batcher: queue, dispatcher, events, the ``Spool`` protocol and its SQLite spool."""

from ._batcher import AsyncUsageBatcher
from ._events import BatcherStats, UsageEvent
from ._spool import Spool, SpooledEvent, SpoolError, SpoolFullError, account_fingerprint
from ._sqlite import SQLiteSpool

__all__ = [
    "AsyncUsageBatcher",
    "BatcherStats",
    "SQLiteSpool",
    "Spool",
    "SpoolError",
    "SpoolFullError",
    "SpooledEvent",
    "UsageEvent",
    "account_fingerprint",
]
