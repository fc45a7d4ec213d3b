"""Group commit for blocking callers: threads arriving together share one write.

The first caller writes; callers arriving meanwhile join the next commit and sleep on it
alone. When a write ends, its callers are woken with the result and one caller of the
next commit is woken to write that one (as a database's log writer does). No thread
writes on behalf of others for longer than one write, and nobody polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

_T = TypeVar("_T")


class _Commit(Generic[_T]):
    """The items of one write, and its callers' wake-up (sharing the group's lock)."""

    def __init__(self, lock: threading.Lock) -> None:
        self.items: list[_T] = []
        self.lock = lock
        self.wake: threading.Condition | None = None  # built by the first caller to wait
        self.done = False
        self.lead = False
        self.error: Exception | None = None


class GroupCommit(Generic[_T]):
    """``submit(items)`` returns once ``write`` has taken them (or raises what it raised)."""

    def __init__(self, write: Callable[[list[_T]], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._open: _Commit[_T] = _Commit(self._lock)
        self._writing = False

    def submit(self, items: Sequence[_T]) -> None:
        """Add ``items`` to the next write and wait until it has been made."""
        with self._lock:
            commit = self._open
            commit.items.extend(items)
            if self._writing:
                if commit.wake is None:
                    commit.wake = threading.Condition(commit.lock)
                while not commit.done and not commit.lead:
                    commit.wake.wait()
                if commit.done:
                    if commit.error is not None:
                        raise commit.error
                    return
            self._writing = True
            commit.lead = False
            self._open = _Commit(self._lock)
        try:
            self._write(commit.items)
        except Exception as exc:  # noqa: BLE001 (every caller of the commit gets it)
            commit.error = exc
        with self._lock:
            commit.done = True
            if commit.wake is not None:
                commit.wake.notify_all()
            following = self._open
            if following.items:
                following.lead = True  # one of its callers writes it
                if following.wake is not None:
                    following.wake.notify()
            else:
                self._writing = False
        if commit.error is not None:
            raise commit.error
