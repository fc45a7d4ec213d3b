"""What a forked child does with what it inherited: keep it, never touch it.

A child shares its parent's sockets, epoll set and SQLite files. Finalising an inherited
loop, session, connector or database connection in the child would close or unregister
what the parent still uses (closing an asyncio loop drops its self-pipe from the shared
epoll set and the parent's next cross-thread call hangs; a uvloop handle's dealloc does
the same for its fd; SQLite forbids using a connection across fork). So the child keeps
such objects alive for good and starts afresh.
"""

from __future__ import annotations

import sys

__all__ = ["abandon"]

_abandoned: list[object] = []


def abandon(obj: object) -> None:
    """Keep ``obj`` alive and unfinalised until the process ends, touching nothing in it.

    A module-level reference is not enough, because interpreter shutdown clears modules
    and would finalise it then; on CPython the object also gets a reference that is never
    released, so no ``__del__`` ever runs for it.
    """
    _abandoned.append(obj)
    if sys.implementation.name == "cpython":
        import ctypes  # noqa: PLC0415 (needed only in forked children)

        ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
