"""The ``Spool`` protocol the Redis spool implements (defined with the batcher)."""

from autumn_async._batcher._spool import Spool, SpooledEvent, SpoolFullError, account_fingerprint

__all__ = ["Spool", "SpoolFullError", "SpooledEvent", "account_fingerprint"]
