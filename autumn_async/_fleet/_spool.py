"""The ``Spool`` protocol, a verbatim copy of ``autumn_async/_batcher/_spool.py``.

Kept here only until the batcher package lands; at merge this module becomes
``from .._batcher._spool import Spool, SpooledEvent``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

import attrs

__all__ = ["Spool", "SpooledEvent"]


@attrs.frozen
class SpooledEvent:
    """One track request accepted by ``track()`` and not yet settled."""

    key: str  # idempotency key, minted at track() before the durable write
    body: bytes  # the JSON body of one track request (carries idempotency_key)
    created_at: float  # time.time() when track() accepted it (for Autumn's 24 h window)


class Spool(Protocol):
    """Where accepted events wait, durably, until they are delivered or dead-lettered."""

    async def open(self, account: str) -> None:
        """Bind to an account fingerprint; recover a dead owner's leases."""

    async def put(self, events: Sequence[SpooledEvent]) -> None:
        """Durable on return; one group commit per call (never one write per event)."""

    def put_blocking(self, events: Sequence[SpooledEvent]) -> None:
        """Same as :meth:`put`, from any thread, with no event loop (sync producers)."""

    async def claim(self, limit: int) -> list[SpooledEvent]:
        """Lease up to ``limit`` unleased events to this owner (the spool keeps leases alive)."""

    async def settle(self, keys: Collection[str], *, dead: Mapping[str, str] | None = None) -> None:
        """Delivered or failed for good: remove; ``dead`` maps key -> dead-letter reason."""

    async def release(self, keys: Collection[str]) -> None:
        """Give leases back now (shutdown) so another owner can take them at once."""

    async def backlog(self) -> int:
        """Events put and not yet settled."""

    async def close(self) -> None:
        """Finish what was handed over and let go of the connection."""

    def after_fork_in_child(self) -> None:
        """Forget the parent's connections; the child gets its own owner id."""
