"""What the async transport will do: own an aiohttp session from a live async generator.

The generator is created and advanced once on the portal loop, then kept but never
closed, so the session closes only when that loop finalises its async generators.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp

from autumn_sync import _portal

#: Strong references, as the transport's per-(process, loop) session cache keeps them.
HELD: list[AsyncIterator[aiohttp.ClientSession]] = []


async def _owner(label: str) -> AsyncIterator[aiohttp.ClientSession]:
    session = aiohttp.ClientSession()
    try:
        yield session
    finally:
        await session.close()
        print(f"session closed: {label} pid={os.getpid()}", flush=True)


async def _open(label: str) -> aiohttp.ClientSession:
    owner = _owner(label)
    HELD.append(owner)
    return await owner.__anext__()


def open_session(label: str) -> aiohttp.ClientSession:
    """Open a session on the portal loop that only the loop's shutdown will close."""
    return _portal.run(_open(label))


def _abandon_inherited() -> None:
    # What the transport's own fork hook does: a child never closes (nor lets the
    # garbage collector finalise) the sessions it inherited from the parent.
    for owner in HELD:
        _portal.abandon(owner)
    HELD.clear()


os.register_at_fork(after_in_child=_abandon_inherited)
