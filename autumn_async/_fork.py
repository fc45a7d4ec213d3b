"""What a forked child does with what it inherited: keep it, never touch it.

A child shares its parent's sockets, epoll set and SQLite files. Finalising an inherited
loop, session, connector or database connection in the child would close or unregister
what the parent still uses (closing an asyncio loop drops its self-pipe from the shared
epoll set and the parent's next cross-thread call hangs; a uvloop handle's dealloc does
the same for its fd; SQLite forbids using a connection across fork). So the child keeps
such objects alive for good and starts afresh.

This module is also the SDK's one at-fork registry. Modules register their hooks under a
named stage; the hooks run in the order of :data:`STAGES` (``before`` in reverse), never
in the order the modules happened to be imported:

1. ``transports``: connection pools forget the parent's sessions;
2. ``batchers``: batchers and their spools drop the parent's queue, tasks and leases;
3. ``sync_loop``: the sync client's private loop and thread start afresh.
"""

from __future__ import annotations

# Imported first so that logging's own at-fork hooks are registered before ours: ``before``
# hooks run in reverse order of registration, so the sync loop's (which may still log) runs
# before logging takes its locks.
import logging  # noqa: F401
import os
import sys
from collections.abc import Callable
from typing import Final

__all__ = ["STAGES", "abandon", "register"]

#: Order in which after-fork hooks run (``before`` hooks run in the reverse order).
STAGES: Final = ("transports", "batchers", "sync_loop")

Hook = Callable[[], None]

_abandoned: list[object] = []
_hooks: dict[str, dict[str, list[Hook]]] = {
    when: {stage: [] for stage in STAGES} for when in ("before", "parent", "child")
}


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


def register(
    stage: str,
    *,
    before: Hook | None = None,
    after_in_parent: Hook | None = None,
    after_in_child: Hook | None = None,
) -> None:
    """Run hooks around ``os.fork()`` at ``stage`` (one of :data:`STAGES`); idempotent."""
    if stage not in STAGES:
        raise ValueError(f"unknown fork stage {stage!r}; expected one of {STAGES}")
    for when, hook in (("before", before), ("parent", after_in_parent), ("child", after_in_child)):
        if hook is not None and hook not in _hooks[when][stage]:
            _hooks[when][stage].append(hook)


def _run(when: str) -> None:
    stages = reversed(STAGES) if when == "before" else STAGES
    first: BaseException | None = None
    for stage in stages:
        for hook in list(_hooks[when][stage]):
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 (one failing hook must not skip the rest)
                first = first or exc
    if first is not None:
        raise first


def _before() -> None:
    _run("before")


def _after_in_parent() -> None:
    _run("parent")


def _after_in_child() -> None:
    _run("child")


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(
        before=_before, after_in_parent=_after_in_parent, after_in_child=_after_in_child
    )
