"""The ``Spool`` protocol the Redis spool implements (defined with the batcher)."""

from autumn_async._batcher._spool import (
    Spool,
    SpooledEvent,
    SpoolFullError,
    SpoolUnavailableError,
    account_fingerprint,
)

__all__ = [
    "Spool",
    "SpoolFullError",
    "SpoolUnavailableError",
    "SpooledEvent",
    "account_fingerprint",
]
