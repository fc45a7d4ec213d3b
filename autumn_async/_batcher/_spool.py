"""The ``Spool`` protocol: where a batcher keeps events durable until they are settled.

A spool holds events that ``track()`` acknowledged and nobody has settled yet. The batcher
puts every event before ``track()`` returns, settles it once it is delivered or failed for
good, and claims what dead owners (a crashed process, another machine whose lease ran out)
left behind. The interface is shaped for a spool that lives on another machine (Redis):
writes are batched, events are leased to one owner at a time, and every owner only ever
sees events of its own account.

Events a batcher ``put`` are leased to that batcher already (it holds them in memory);
``claim`` returns only events nobody alive holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from autumn_async._errors import AutumnError
from autumn_async._public import publish

__all__ = [
    "Spool",
    "SpoolError",
    "SpoolFullError",
    "SpoolUnavailableError",
    "SpooledEvent",
    "account_fingerprint",
]


@attrs.frozen
class SpooledEvent:
    """One event as a spool stores it.

    ``key`` is the idempotency key, minted at ``track()`` before the durable write;
    ``body`` the JSON body of one ``balances.track`` request (it carries the key);
    ``created_at`` is ``time.time()`` when ``track()`` accepted it (Autumn remembers
    keys for 24 hours).
    """

    key: str
    body: bytes
    created_at: float


@runtime_checkable
class Spool(Protocol):
    """Durable storage of unsettled events, shared by the owners of one account."""

    async def open(self, account: str) -> None:
        """Bind to ``account`` (see :func:`account_fingerprint`); recover dead owners' leases.

        Only events put under this account are claimed; others are reported once with a
        WARNING and left in place.
        """

    async def put(self, events: Sequence[SpooledEvent]) -> None:
        """Store ``events``, leased to this owner; durable on return, one group write per call."""

    def put_blocking(self, events: Sequence[SpooledEvent]) -> None:
        """The same as :meth:`put`, from any thread, with no event loop (sync producers)."""

    async def claim(self, limit: int) -> list[SpooledEvent]:
        """Lease up to ``limit`` events nobody alive holds; the spool keeps leases alive."""

    async def settle(self, keys: Collection[str], *, dead: Mapping[str, str] | None = None) -> None:
        """Remove events delivered or failed for good; ``dead`` maps key -> reason to keep."""

    async def release(self, keys: Collection[str]) -> None:
        """Give leases back now (at shutdown) so another owner can take them at once."""

    async def backlog(self) -> int:
        """Events put under this account and not yet settled (by any owner)."""

    async def close(self) -> None:
        """Finish pending writes and let go of the storage; idempotent."""

    def after_fork_in_child(self) -> None:
        """In a forked child: forget the parent's threads, handles and leases."""


class SpoolError(AutumnError):
    """The spool's storage cannot be used: corrupt, truncated or written by something else,
    or the disk refuses to write it (full, a file size limit, an I/O error).

    ``path`` names the file; ``errno`` is the system's error number when the disk refused
    a write (``errno.ENOSPC``, ``errno.EFBIG``, ``errno.EIO``), else ``None``. The SDK never
    deletes or rewrites the file: move a damaged one aside (keep it if the events in it
    matter) and start again with a fresh path; free space for a full one.
    """

    def __init__(self, message: str, *, path: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class SpoolFullError(AutumnError):
    """The spool refuses more events: ``reason`` is ``max_backlog`` or ``redis_oom``.

    A spool's ``put``/``put_blocking`` raises it; the batcher treats it as a full queue
    and applies its ``overflow`` policy (``drop_oldest`` cannot evict from a spool on
    another machine, so there the new event is the one dropped).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class SpoolUnavailableError(SpoolError):
    """A shared spool's server did not take the write or the read (Redis unreachable, a
    read-only replica, timed out): nothing was stored. ``path`` is the server's URL with
    its credentials masked. Catch :class:`SpoolError` for every spool that cannot be used.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message, path=path)


def account_fingerprint(server_url: str, secret_key: str) -> str:
    """A stable name for one account on one server that does not reveal the key."""
    digest = hashlib.sha256(f"autumn-spool\0{server_url.rstrip('/')}\0{secret_key}".encode())
    return digest.hexdigest()[:32]


publish(
    globals(),
    ("Spool", "SpoolError", "SpoolFullError", "SpoolUnavailableError", "SpooledEvent"),
)
