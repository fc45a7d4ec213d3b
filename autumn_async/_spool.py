"""The batcher's durable spool: an SQLite file in WAL mode, written by one thread.

A row is an event not yet settled: ``(key, body, state, claimed_by, claimed_at)``. A
process inserts its events already claimed by itself and deletes them once delivered or
failed for good. Claims are leases kept alive by a heartbeat; another process takes over
rows whose lease ran out, or at once when their owner is a dead process on this host.
Resends keep the rows' keys, so a takeover of rows that were in fact delivered only
meets Autumn's duplicate check, never a second deduction.

Every statement runs on the spool's own thread (never on an event loop). Operations
queued while a commit is in progress go into the next transaction together: one commit
per burst of ``track`` calls rather than one per event.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._fork import abandon

__all__ = ["Spool", "Waiter"]

#: A thread-blocking future (sync callers), a loop future (async callers) or nothing.
Waiter = concurrent.futures.Future[Any] | asyncio.Future[Any] | None
_Op = Callable[[sqlite3.Connection], Any]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (key TEXT PRIMARY KEY, body TEXT NOT NULL, "
    "state TEXT NOT NULL DEFAULT 'pending', claimed_by TEXT, claimed_at REAL)",
    "CREATE INDEX IF NOT EXISTS events_claim ON events (claimed_by, claimed_at)",
)
_HOST = socket.gethostname()


def _owner_gone(owner: str | None) -> bool:
    """Whether ``owner`` (``host|pid|token``) is a process on this host that has died."""
    if owner is None:
        return True
    host, _, rest = owner.partition("|")
    pid_text, _, _token = rest.partition("|")
    if host != _HOST or not pid_text.isdigit():
        return False  # another machine: only its lease tells
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another batcher of this process: alive or it released its rows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, owned by someone else
    return False


class Spool:
    """The spool file of one batcher; every method may be called from any thread."""

    def __init__(self, path: str | os.PathLike[str], *, lease: float) -> None:
        self.path = os.fspath(path)
        self.lease = lease
        self._new_owner()

    def _new_owner(self) -> None:
        self.owner = f"{_HOST}|{os.getpid()}|{uuid.uuid4().hex[:12]}"
        self._cv = threading.Condition()
        self._ops: collections.deque[tuple[_Op, Waiter]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._closing = False

    def after_fork_in_child(self) -> None:
        """Forget the parent's thread and connection; the child gets its own owner id."""
        if self._conn is not None:
            abandon(self._conn)  # SQLite forbids using or closing it across fork
        self._new_owner()

    # -- operations (queued; run in one transaction with their neighbours) -------------

    def insert(self, rows: Sequence[tuple[str, str]], waiter: Waiter) -> None:
        """Add ``(key, body JSON)`` rows claimed by this owner; an existing key is kept."""
        owner = self.owner

        def op(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.executemany(
                "INSERT OR IGNORE INTO events (key, body, state, claimed_by, claimed_at) "
                "VALUES (?, ?, 'pending', ?, ?)",
                [(key, body, owner, now) for key, body in rows],
            )

        self.submit(op, waiter)

    def delete(self, keys: Iterable[str]) -> None:
        """Remove settled rows (delivered or failed for good); nothing waits for it."""
        params = [(key,) for key in keys]
        self.submit(lambda conn: conn.executemany("DELETE FROM events WHERE key = ?", params), None)

    def merge(self, old: Sequence[str], key: str, body: str, waiter: Waiter) -> None:
        """Replace rows ``old`` by one coalesced row, if this owner still holds them all.

        The waiter gets ``True`` when replaced; ``False`` (another process took some over)
        means the events must go out unmerged, under their own keys.
        """
        owner = self.owner

        def op(conn: sqlite3.Connection) -> bool:
            held = 0
            for start in range(0, len(old), 500):
                chunk = old[start : start + 500]
                marks = ",".join("?" * len(chunk))
                row = conn.execute(
                    f"SELECT COUNT(*) FROM events WHERE claimed_by = ? AND key IN ({marks})",  # noqa: S608 (only placeholders are formatted in)
                    [owner, *chunk],
                ).fetchone()
                held += int(row[0])
            if held != len(old):
                return False
            conn.executemany("DELETE FROM events WHERE key = ?", [(k,) for k in old])
            conn.execute(
                "INSERT OR IGNORE INTO events (key, body, state, claimed_by, claimed_at) "
                "VALUES (?, ?, 'pending', ?, ?)",
                (key, body, owner, time.time()),
            )
            return True

        self.submit(op, waiter)

    def claim(self, limit: int, waiter: Waiter) -> None:
        """Take up to ``limit`` unowned rows; the waiter gets their ``(key, body)`` pairs.

        Unowned: released, lease expired, or owned by a dead process on this host.
        """
        owner, lease = self.owner, self.lease

        def op(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            now = time.time()
            rows = conn.execute(
                "SELECT key, body FROM events WHERE claimed_by IS NULL OR (claimed_by != ? "
                "AND (claimed_at < ? OR autumn_owner_gone(claimed_by))) LIMIT ?",
                (owner, now - lease, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE events SET claimed_by = ?, claimed_at = ? WHERE key = ?",
                [(owner, now, key) for key, _ in rows],
            )
            return [(str(key), str(body)) for key, body in rows]

        self.submit(op, waiter)

    def release(self, waiter: Waiter) -> None:
        """Give up this owner's rows so the next batcher on the file resends them at once."""
        owner = self.owner
        self.submit(
            lambda conn: conn.execute(
                "UPDATE events SET claimed_by = NULL WHERE claimed_by = ?", (owner,)
            ),
            waiter,
        )

    def submit(self, op: _Op, waiter: Waiter) -> None:
        """Queue ``op(connection)`` for the spool thread; its result goes to ``waiter``."""
        with self._cv:
            if self._closing:
                raise RuntimeError("the spool is closed")
            self._ops.append((op, waiter))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="autumn-batcher-spool", daemon=True
                )
                self._thread.start()
            self._cv.notify()

    def close(self) -> None:
        """Run what is queued, stop the thread and close the file (blocking; idempotent)."""
        with self._cv:
            self._closing = True
            thread = self._thread
            self._cv.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # -- the spool thread --------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE takes the write
        # lock up front, so two processes never deadlock upgrading a read lock).
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit survives the process being killed (the WAL is in the OS's
        # page cache); FULL would also survive power loss at one fsync per commit.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.create_function("autumn_owner_gone", 1, _owner_gone)
        for statement in _SCHEMA:
            conn.execute(statement)
        return conn

    def _serve(self) -> None:
        heartbeat_every = self.lease / 3
        next_beat = time.monotonic() + heartbeat_every
        conn: sqlite3.Connection | None = None
        while True:
            with self._cv:
                while not self._ops and not self._closing:
                    left = next_beat - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
                batch = list(self._ops)
                self._ops.clear()
                closing = self._closing
            try:
                if conn is None:
                    conn = self._conn = self._connect()
                if time.monotonic() >= next_beat:
                    owner = self.owner
                    batch.append((_heartbeat(owner), None))
                    next_beat = time.monotonic() + heartbeat_every
                if batch:
                    _run_batch(conn, batch)
            except Exception as exc:  # noqa: BLE001 (handed to every waiter; the thread lives on)
                _settle([(waiter, None, exc) for _op, waiter in batch])
            if closing and not batch:
                if conn is not None:
                    conn.close()
                    self._conn = None
                return


def _heartbeat(owner: str) -> _Op:
    return lambda conn: conn.execute(
        "UPDATE events SET claimed_at = ? WHERE claimed_by = ?", (time.time(), owner)
    )


def _run_batch(conn: sqlite3.Connection, batch: list[tuple[_Op, Waiter]]) -> None:
    """One transaction for the whole batch; if any op fails, each runs on its own."""
    results: list[tuple[Waiter, Any, BaseException | None]] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for op, waiter in batch:
            results.append((waiter, op(conn), None))
        conn.execute("COMMIT")
    except Exception:  # noqa: BLE001 (retried op by op below, so one bad op fails alone)
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        results = []
        for op, waiter in batch:
            try:
                conn.execute("BEGIN IMMEDIATE")
                result = op(conn)
                conn.execute("COMMIT")
            except Exception as exc:  # noqa: BLE001 (reported to that op's waiter)
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                results.append((waiter, None, exc))
            else:
                results.append((waiter, result, None))
    _settle(results)


def _settle(results: list[tuple[Waiter, Any, BaseException | None]]) -> None:
    # Loop futures are resolved with one wake-up per loop, not one per event.
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
    for waiter, result, exc in results:
        if waiter is None:
            continue
        if isinstance(waiter, concurrent.futures.Future):
            if exc is None:
                waiter.set_result(result)
            else:
                waiter.set_exception(exc)
        else:
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, result, exc))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
            loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, exc in items:
        if future.done():
            continue  # the awaiting task was cancelled
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)
