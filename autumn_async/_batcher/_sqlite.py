"""``SQLiteSpool``: the batcher's spool on one machine, an SQLite file plus two small logs.

``put`` appends checksummed records to this owner's log (one ``write`` per call, durable
against the process being killed once it returns) and returns: no commit, no hand-off
to another thread. The spool's own thread wakes a few times a second, switches writers
to the other of its two logs, moves what the first one holds into SQLite in one
transaction together with the deletions of settled events, and then empties that log.
An event is therefore always in a log, in SQLite, or both; the pattern is that of
Vector's and Fluent Bit's disk buffers.

Who is alive is told by ``flock``: each owner holds an exclusive lock on its first log
for its whole life, and the kernel drops it when the process dies however it dies. A
dead owner's logs are read (records whose checksum does not match are counted and
skipped, never delivered), moved into SQLite unleased, and removed; its rows in SQLite
become claimable at once. Leases (renewed by a heartbeat) cover owners whose lock
cannot be seen.

The file format is the spool's own business: tests go through the batcher.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import errno
import glob
import mmap
import os
import sqlite3
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from autumn_async._fork import abandon
from autumn_async._log import sdk_logger

try:
    import fcntl
except ImportError:  # Windows: no flock, so no spool (the batcher works without one)
    fcntl = None  # type: ignore[assignment]

from ._spool import SpooledEvent, SpoolError

__all__ = ["SQLiteSpool"]

logger = sdk_logger("batcher")

_Waiter = concurrent.futures.Future[Any] | asyncio.Future[Any] | None
_Op = Callable[[sqlite3.Connection], Any]

_FORMAT, _VERSION = "autumn-batcher-spool", "2"
_SCHEMA = (
    "CREATE TABLE autumn_spool_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE events (key TEXT PRIMARY KEY, account TEXT NOT NULL, body BLOB NOT NULL, "
    "created_at REAL NOT NULL, owner TEXT, lease_until REAL NOT NULL DEFAULT 0)",
    "CREATE INDEX events_claim ON events (account, owner)",
    "CREATE TABLE dead (key TEXT PRIMARY KEY, account TEXT NOT NULL, body BLOB NOT NULL, "
    "created_at REAL NOT NULL, reason TEXT NOT NULL, failed_at REAL NOT NULL)",
)
#: Seconds between log rotations while the log holds unsettled events.
_CYCLE = 0.5
#: Events still unsettled after this many seconds are moved into SQLite ...
_MOVE_AGE = 10.0
#: ... and so is the oldest excess past this many (memory held for the log).
_KEEP_MAX = 20_000

_MAGIC = b"\xa7AuS"
_HEADER = struct.Struct("<4sII")  # magic, payload length, crc32 of the payload


def _record(account: bytes, event: SpooledEvent) -> bytes:
    payload = b"\n".join(
        (account, event.key.encode(), repr(float(event.created_at)).encode(), event.body)
    )
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def read_log(data: bytes) -> tuple[list[tuple[str, SpooledEvent]], int]:
    """The intact ``(account, event)`` records of a log, and how many were damaged.

    A record whose checksum, length or layout is wrong is skipped (and counted); reading
    resumes at the next record marker, so one damaged record costs only itself.
    """
    out: list[tuple[str, SpooledEvent]] = []
    bad = 0
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < _HEADER.size or data[pos : pos + 4] != _MAGIC:
            if _at_end(data, pos):
                break
            bad += 1
            pos = _resync(data, pos + 1)
            continue
        _magic, length, crc = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        payload = data[start : start + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            bad += 1
            pos = _resync(data, pos + 1)
            continue
        pos = start + length
        parts = payload.split(b"\n", 3)
        try:
            account, key, created, body = parts
            event = SpooledEvent(key.decode(), body, float(created))
            out.append((account.decode(), event))
        except ValueError:
            bad += 1
    return out, bad


def _at_end(data: bytes, pos: int) -> bool:
    # A log is mapped at a larger size than it holds: what follows the last record is zeros.
    return not data[pos : pos + 4096].strip(b"\0") and not data[pos:].strip(b"\0")


def _resync(data: bytes, start: int) -> int:
    found = data.find(_MAGIC, start)
    return len(data) if found < 0 else found


#: Where the platform has it, what backs a log's pages with real blocks (see _Log._reserve).
_fallocate = getattr(os, "posix_fallocate", None)

#: The system errors of a disk that refuses a write: full, over quota, a file size limit
#: (RLIMIT_FSIZE or the filesystem's), an I/O error.
_DISK_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO") if hasattr(errno, name)
)
#: SQLite's primary result codes for the same (SQLITE_IOERR, SQLITE_FULL).
_SQLITE_DISK_CODES = frozenset({10, 13})


def _disk_advice(err: int | None) -> str:
    """What to do when the disk refused a write with ``err`` (``None``: SQLite's word)."""
    if err == errno.EFBIG:
        return (
            "A file size limit stops it growing: raise it (ulimit -f, RLIMIT_FSIZE), or give "
            "the batcher a spool_path on another filesystem."
        )
    if err in (errno.ENOSPC, getattr(errno, "EDQUOT", None)):
        return "Free space on its filesystem, or give the batcher a spool_path on another one."
    if err == errno.EIO:
        return "The disk failed to write (an I/O error): check it."
    return (
        "Check the free space and the file size limit (ulimit -f) of its filesystem, and the disk."
    )


#: Suffix of a first log while it is being made, before it is locked and named.
_UNBORN = ".new"
#: Age after which an unlocked first log still being made is a dead start's leftover.
_UNBORN_STALE_S = 60.0


class _Log:
    """One append-only log file, memory-mapped: an append is a copy, not a system call.

    A copy into a shared mapping is in the page cache when it completes, so it survives
    the process being killed like a ``write`` does, without releasing the GIL (a system
    call per event let other threads in and made a tracking loop wait for them).
    """

    INITIAL = 4 << 20

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.ftruncate(self.fd, self.INITIAL)
            self._reserve(self.INITIAL)
            self.map = mmap.mmap(self.fd, self.INITIAL)
        except BaseException:
            os.close(self.fd)
            raise
        self.used = 0

    def _reserve(self, size: int) -> None:
        """Allocate the file's blocks up to ``size``, or raise OSError (ENOSPC, EFBIG).

        ``ftruncate`` alone leaves a sparse file: on a full disk the first copy into an
        unbacked page then kills the whole process with SIGBUS instead of raising.
        """
        if _fallocate is not None:
            _fallocate(self.fd, 0, size)
        self.reserved = size

    def append(self, data: bytes) -> None:
        end = self.used + len(data)
        # Past the allocated blocks (or after a failed clear), or past the mapping (after
        # a resize that failed once its blocks were allocated).
        if end > self.reserved or end > len(self.map):
            size = max(end, 2 * len(self.map)) if end > len(self.map) else len(self.map)
            self._reserve(size)
            if size > len(self.map):
                self.map.resize(size)
        self.map[self.used : end] = data
        self.used = end

    def clear(self) -> None:
        """Empty the file (nobody may touch the mapping meanwhile)."""
        if self.used:
            size = len(self.map)
            os.ftruncate(self.fd, 0)  # drops the pages: stale records cannot come back
            self.reserved = 0
            os.ftruncate(self.fd, size)
            self.used = 0
            self._reserve(size)  # raising here leaves an empty, sparse log: appends re-check

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError, BufferError):
            self.map.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


class SQLiteSpool:
    """The SQLite implementation of :class:`Spool`; every method may be called from any thread.

    ``path`` is the SQLite file; the logs live beside it (``<path>-log.<owner>.0|1``).
    ``lease`` (seconds) is how long another machine's rows stay leased without a heartbeat.
    """

    def __init__(self, path: str | os.PathLike[str], *, lease: float = 30.0) -> None:
        self.path = os.fspath(path)
        self.lease = float(lease)
        self._account = ""
        self._fresh()

    def _fresh(self) -> None:
        self.owner = uuid.uuid4().hex[:16]
        self._lock = threading.Lock()  # the log writers' lock
        self._logs: list[_Log] = []
        self._active = 0
        # Events put and neither settled nor moved into SQLite: only in a log, by key, with
        # their record (copied into the next log at each rotation), oldest first.
        self._pending: dict[str, tuple[SpooledEvent, bytes]] = {}
        self._rotate_due = False
        self._cv = threading.Condition()  # the spool thread's work
        self._ops: collections.deque[tuple[_Op, _Waiter]] = collections.deque()
        self._settle: list[str] = []
        self._dead: dict[str, str] = {}
        self._dead_rows: list[tuple[SpooledEvent, str]] = []
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._closing = False
        self._closed_waiters: list[_Waiter] = []
        self._foreign_reported = False
        self._opened = False
        self._last_error = ""
        self._rotate_error = ""  # reported once until a rotation succeeds again
        self._recovered: list[tuple[int, str]] = []
        self._closing_failed: SpoolError | None = None

    def __repr__(self) -> str:
        # getattr: shown by tracebacks rendered with locals even when __init__ raised.
        return f"SQLiteSpool({getattr(self, 'path', '<not built>')!r})"

    def _log_path(self, owner: str, n: int) -> str:
        return f"{self.path}-log.{owner}.{n}"

    # -- the protocol ------------------------------------------------------------------

    async def open(self, account: str) -> None:
        if self._opened:
            return
        self._account = account
        self._open_logs()
        self._opened = True
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._submit(self._open_op, waiter)
        try:
            await waiter
        except BaseException:
            logs = list(self._logs)
            await self.close()
            self._opened = False
            # This start's own logs, if nothing was ever written to them: without this a
            # supervisor restarting a worker on an unusable file (corrupt, a directory, a
            # full disk) left 8 MiB of allocated, empty logs per attempt. Closed, they
            # take no more writes, so "empty" cannot change under us; logs that hold
            # records stay for the next owner to recover.
            if not self._pending and all(log.used == 0 for log in logs):
                for n in (0, 1):
                    with contextlib.suppress(OSError):
                        os.unlink(self._log_path(self.owner, n))
            raise

    def put_blocking(self, events: Sequence[SpooledEvent]) -> None:
        if not events:
            return
        account = self._account.encode()
        records = [(event, _record(account, event)) for event in events]
        data = records[0][1] if len(records) == 1 else b"".join([r for _e, r in records])
        with self._lock:
            if not self._logs or self._closing:
                raise SpoolError(f"the spool {self.path} is not open", path=self.path)
            try:
                self._logs[self._active].append(data)
            except OSError as exc:  # nothing was written: the event is not accepted
                raise self._disk_error(
                    exc, "the event was not accepted (those accepted before it are kept)"
                ) from None
            pending = self._pending
            for event, record in records:
                pending[event.key] = (event, record)
            wake = not self._rotate_due
            self._rotate_due = True
        if wake:
            with self._cv:
                self._cv.notify()

    async def put(self, events: Sequence[SpooledEvent]) -> None:
        # One append to a file in the page cache: cheaper than a hop to another thread.
        self.put_blocking(events)

    async def claim(self, limit: int) -> list[SpooledEvent]:
        result: list[SpooledEvent] = await self._call(lambda conn: self._claim_op(conn, limit))
        return result

    async def settle(self, keys: Collection[str], *, dead: Mapping[str, str] | None = None) -> None:
        # An event settled while only in the log never reaches SQLite: the next rotation
        # leaves it behind. Removal is lazy: a settled event found after a crash is only
        # resent under its key, which Autumn answers as a duplicate.
        in_sqlite: list[str] = []
        dead_rows: list[tuple[SpooledEvent, str]] = []
        with self._lock:
            pending = self._pending
            for key in keys:
                entry = pending.pop(key, None)
                if entry is None:
                    in_sqlite.append(key)
                elif dead and key in dead:
                    dead_rows.append((entry[0], dead[key]))
        if in_sqlite or dead_rows:
            with self._cv:
                self._settle.extend(in_sqlite)
                if dead:
                    self._dead.update({key: dead[key] for key in in_sqlite if key in dead})
                self._dead_rows.extend(dead_rows)
                self._cv.notify()

    async def release(self, keys: Collection[str]) -> None:
        owner, account = self.owner, self._account
        keys = list(keys)

        def op(conn: sqlite3.Connection) -> list[str]:
            # Those only in a log go to SQLite, unleased. They stay pending (in a log)
            # until the commit: taken out now, the next rotation would see nothing
            # pending and empty the log while SQLite cannot take them (a full disk).
            with self._lock:
                released = [self._pending[key][0] for key in keys if key in self._pending]
            conn.executemany(
                "INSERT OR IGNORE INTO events (key, account, body, created_at, owner, "
                "lease_until) VALUES (?, ?, ?, ?, NULL, 0)",
                [(e.key, account, e.body, e.created_at) for e in released],
            )
            conn.executemany(
                "UPDATE events SET owner = NULL, lease_until = 0 WHERE key = ? AND owner = ?",
                [(key, owner) for key in keys],
            )
            return [e.key for e in released]

        committed: list[str] = await self._call(op)
        with self._lock:
            for key in committed:
                self._pending.pop(key, None)

    async def backlog(self) -> int:
        def op(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT COUNT(*) FROM events WHERE account = ?", (self._account,)
            ).fetchone()
            with self._lock:
                return int(row[0]) + len(self._pending)

        count: int = await self._call(op)
        return count

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        with self._cv:
            thread = self._thread
            if thread is None or not thread.is_alive():
                waiter.set_result(None)
            else:
                self._closing = True
                self._closed_waiters.append(waiter)
                self._cv.notify()
        await waiter
        # Logs whose records did not all reach SQLite stay for the next owner to recover.
        self._close_logs(remove=self._closing_failed is None and not self._pending)

    def after_fork_in_child(self) -> None:
        # The parent's thread does not exist here and its connection must not be used or
        # closed; the inherited log descriptors are closed so the parent's lock dies with it.
        if self._conn is not None:
            abandon(self._conn)
        for log in self._logs:
            log.close()
        self._fresh()

    # -- logs --------------------------------------------------------------------------

    def _open_logs(self) -> None:
        if fcntl is None:
            raise SpoolError("the SQLite spool needs a POSIX system (flock)", path=self.path)
        logs: list[_Log] = []
        first = self._log_path(self.owner, 0)
        try:
            # The first log is made under a name no peer looks for, locked, and only then
            # given its name: a peer's start looks for dead owners' logs (unlocked ones)
            # and would otherwise take one that exists but is not locked yet, recover it
            # and remove it while this owner goes on writing to it.
            logs.append(_Log(first + _UNBORN))
            fcntl.flock(logs[0].fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(first + _UNBORN, first)
            logs.append(_Log(self._log_path(self.owner, 1)))
        except OSError as exc:
            for log in logs:
                log.close()
            for name in (first + _UNBORN, first, self._log_path(self.owner, 1)):
                with contextlib.suppress(OSError):  # this owner's, just made (empty)
                    os.unlink(name)
            if exc.errno in _DISK_ERRNOS:
                raise self._disk_error(exc, "the batcher cannot start") from None
            raise SpoolError(
                f"cannot write the spool's log beside {self.path}: {exc.strerror}; check that "
                "its directory exists and is writable",
                path=self.path,
                errno=exc.errno,
            ) from None
        self._logs = logs

    def _close_logs(self, *, remove: bool) -> None:
        with self._lock:
            logs, self._logs = self._logs, []
        if remove and logs:
            for n in (0, 1):
                with contextlib.suppress(OSError):
                    os.unlink(self._log_path(self.owner, n))
        for log in logs:
            log.close()

    def _recover_dead_logs(self, conn: sqlite3.Connection) -> None:
        """Move the logs of owners that died into SQLite, unleased, and remove them."""
        for unborn in glob.glob(glob.escape(self.path) + "-log.*.0" + _UNBORN):
            # An owner killed while starting: never written to (records go only to a
            # named log). One being made right now is not locked yet either, so only a
            # file left for a minute, and unlocked, is removed.
            with contextlib.suppress(OSError):
                fd = os.open(unborn, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                try:
                    if time.time() - os.fstat(fd).st_mtime > _UNBORN_STALE_S:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        os.unlink(unborn)
                finally:
                    os.close(fd)
        for first in glob.glob(glob.escape(self.path) + "-log.*.0"):
            owner = first[len(self.path) + 5 : -2]
            if owner == self.owner:
                continue
            try:
                fd = os.open(first, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                continue
            keep = False
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # alive
                try:
                    if os.stat(first).st_ino != os.fstat(fd).st_ino:
                        continue  # recovered by someone else meanwhile
                except FileNotFoundError:
                    continue
                self._import_log(conn, owner)
                # Removed once the transaction that holds its records has committed; the
                # lock is kept until then so nobody imports it twice meanwhile.
                self._recovered.append((fd, owner))
                keep = True
            finally:
                if not keep:
                    os.close(fd)

    def _finish_recovery(self, *, committed: bool) -> None:
        recovered, self._recovered = self._recovered, []
        for fd, owner in recovered:
            if committed:
                for n in (1, 0):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self._log_path(owner, n))
            os.close(fd)

    def _import_log(self, conn: sqlite3.Connection, owner: str) -> None:
        records: list[tuple[str, SpooledEvent]] = []
        bad = 0
        for n in (0, 1):
            try:
                with open(self._log_path(owner, n), "rb") as file:
                    got, damaged = read_log(file.read())
            except FileNotFoundError:
                continue
            records += got
            bad += damaged
        if bad:
            logger.warning(
                "spool %s: %d damaged record(s) in the log of a dead process were skipped "
                "(a torn write or a corrupt disk block); they are never delivered",
                self.path,
                bad,
            )
        conn.executemany(
            "INSERT OR IGNORE INTO events (key, account, body, created_at, owner, lease_until) "
            "VALUES (?, ?, ?, ?, NULL, 0)",
            [(e.key, account, e.body, e.created_at) for account, e in records],
        )

    def _owner_dead(self, owner: str, cache: dict[str, bool]) -> bool:
        dead = cache.get(owner)
        if dead is None:
            try:
                fd = os.open(self._log_path(owner, 0), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                dead = True
            else:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    dead = True
                except BlockingIOError:
                    dead = False
                finally:
                    os.close(fd)
            cache[owner] = dead
        return dead

    # -- operations on the spool thread ------------------------------------------------

    def _open_op(self, conn: sqlite3.Connection) -> None:
        self._recover_dead_logs(conn)
        self._report_foreign(conn)

    def _claim_op(self, conn: sqlite3.Connection, limit: int) -> list[SpooledEvent]:
        self._recover_dead_logs(conn)
        self._report_foreign(conn)
        now, cache = time.time(), dict[str, bool]()
        conn.create_function("autumn_owner_dead", 1, lambda o: self._owner_dead(o, cache))
        rows = conn.execute(
            "SELECT key, body, created_at FROM events WHERE account = ? AND (owner IS NULL OR "
            "(owner != ? AND (lease_until < ? OR autumn_owner_dead(owner)))) LIMIT ?",
            (self._account, self.owner, now, limit),
        ).fetchall()
        conn.executemany(
            "UPDATE events SET owner = ?, lease_until = ? WHERE key = ?",
            [(self.owner, now + self.lease, key) for key, _, _ in rows],
        )
        return [SpooledEvent(str(key), bytes(body), float(at)) for key, body, at in rows]

    def _report_foreign(self, conn: sqlite3.Connection) -> None:
        if self._foreign_reported:
            return
        row = conn.execute(
            "SELECT COUNT(*) FROM events WHERE account != ?", (self._account,)
        ).fetchone()
        if row[0]:
            self._foreign_reported = True
            logger.warning(
                "spool %s holds %d event(s) of another account (another server URL or secret "
                "key); they are left in place for a batcher of that account and never sent "
                "with this one",
                self.path,
                row[0],
            )

    def _call(self, op: _Op) -> asyncio.Future[Any]:
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._submit(op, waiter)
        return waiter

    def _submit(self, op: _Op, waiter: _Waiter) -> None:
        with self._cv:
            if self._closing:
                raise SpoolError(f"the spool {self.path} is closed", path=self.path)
            self._ops.append((op, waiter))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="autumn-batcher-spool", daemon=True
                )
                self._thread.start()
            self._cv.notify()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unusable(exc) from None
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise SpoolError(
                    f"the spool {self.path} is damaged (SQLite: {check[0] if check else '?'}); "
                    "move it aside to start afresh, and keep it if its events matter",
                    path=self.path,
                )
            # Checked before anything is written: a file that is not ours stays untouched.
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if tables:
                meta = {}
                if "autumn_spool_meta" in tables:
                    meta = dict(conn.execute("SELECT name, value FROM autumn_spool_meta"))
                if meta.get("format") != _FORMAT or meta.get("version") != _VERSION:
                    raise SpoolError(
                        f"{self.path} is not a spool of this version of autumn-balances (it "
                        "holds other tables, or was written by an earlier version that did not "
                        "record which account each event belongs to); move it aside and give "
                        "the batcher a new spool_path",
                        path=self.path,
                    )
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives the process being killed, not a power loss.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            if not conn.execute("SELECT name FROM sqlite_master").fetchall():
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.executemany(
                    "INSERT INTO autumn_spool_meta VALUES (?, ?)",
                    [("format", _FORMAT), ("version", _VERSION)],
                )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.close()
            raise self._unusable(exc) from None
        except SpoolError:
            conn.close()
            raise
        return conn

    def _disk_error(self, exc: OSError, consequence: str) -> SpoolError:
        return SpoolError(
            f"cannot write the spool {self.path}: {exc.strerror or exc}; {consequence}. "
            + _disk_advice(exc.errno),
            path=self.path,
            errno=exc.errno,
        )

    def _unusable(self, exc: sqlite3.Error) -> SpoolError:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in _SQLITE_DISK_CODES:
            # Full, over a size limit, or failing: the file is fine, its disk is not.
            return SpoolError(
                f"cannot write the spool {self.path} (SQLite: {exc}); events not yet moved "
                f"into it stay in its log files beside it ({self.path}-log.*), which this "
                "batcher, or the next one on the file, moves in once it can. " + _disk_advice(None),
                path=self.path,
            )
        return SpoolError(
            f"the spool {self.path} cannot be used (SQLite: {exc}); if it is corrupt, truncated "
            "or not a spool, move it aside to start afresh, and keep it if its events matter",
            path=self.path,
        )

    def _serve(self) -> None:
        beat_every = self.lease / 3
        next_beat = time.monotonic() + beat_every
        conn: sqlite3.Connection | None = None
        while True:
            with self._cv:
                while not (self._ops or self._settle or self._dead_rows or self._closing):
                    if self._rotate_due:
                        self._cv.wait(_CYCLE)
                        break
                    left = next_beat - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
                ops = list(self._ops)
                self._ops.clear()
                settle, self._settle = self._settle, []
                dead, self._dead = self._dead, {}
                dead_rows, self._dead_rows = self._dead_rows, []
                closing = self._closing
            moving, rotated_from = self._rotate(closing=closing)
            beat = time.monotonic() >= next_beat
            if beat:
                next_beat = time.monotonic() + beat_every
            results: list[tuple[_Waiter, Any, BaseException | None]] = []
            try:
                if conn is None:
                    conn = self._conn = self._connect()
                results = self._transaction(
                    conn,
                    moving=[e for e, _r in moving],
                    settle=settle,
                    dead=dead,
                    dead_rows=dead_rows,
                    ops=ops,
                    beat=beat,
                )
            except Exception as exc:  # noqa: BLE001 (handed to every waiter; the thread lives on)
                error = exc if isinstance(exc, SpoolError) else self._wrap(exc)
                results = [(waiter, None, error) for _op, waiter in ops]
                with self._lock:  # still in a log: moved next time
                    self._pending = {e.key: (e, r) for e, r in moving} | self._pending
                    self._rotate_due = self._rotate_due or bool(moving)
                with self._cv:
                    self._settle[:0] = settle
                    self._dead.update(dead)
                    self._dead_rows[:0] = dead_rows
                if ops and not (moving or settle or dead_rows):
                    pass  # the waiters get it
                elif str(error) != self._last_error:
                    self._last_error = str(error)
                    logger.warning("usage batcher spool: %s", error)
                if closing:
                    self._closing_failed = error
            else:
                self._last_error = ""
                if rotated_from is not None:
                    with contextlib.suppress(OSError):
                        rotated_from.clear()
            _resolve_all(results)
            if closing:
                with self._cv:
                    if (
                        self._ops or self._settle or self._pending
                    ) and self._closing_failed is None:
                        continue
                    waiters, self._closed_waiters = self._closed_waiters, []
                    self._thread = None
                if conn is not None:
                    conn.close()
                    self._conn = None
                _resolve_all([(w, None, None) for w in waiters])
                return

    def _rotate(self, *, closing: bool) -> tuple[list[tuple[SpooledEvent, bytes]], _Log | None]:
        """Switch writers to the other log, carrying over what stays only in a log.

        Returns the events to move into SQLite (unsettled for ``_MOVE_AGE`` seconds, the
        oldest past ``_KEEP_MAX``, or all at close) and the log to empty
        once they are committed (``None``: nothing to empty).
        """
        with self._lock:
            logs = self._logs
            if len(logs) != 2:
                return [], None
            pending = self._pending
            self._rotate_due = False
            if not pending:
                # Everything ever written to the active log is settled or committed in
                # SQLite (moves run on this thread, one at a time): empty it in place.
                with contextlib.suppress(OSError):
                    logs[self._active].clear()
                return [], None
            old = self._active
            self._active = new = 1 - old
            items = list(pending.values())
            limit = time.time() - _MOVE_AGE
            excess = len(items) - _KEEP_MAX
            n_move = len(items) if closing else 0
            while n_move < len(items) and (n_move < excess or items[n_move][0].created_at < limit):
                n_move += 1
            moving, keep = items[:n_move], items[n_move:]
            for event, _record in moving:
                del pending[event.key]
            if keep:
                try:
                    logs[new].append(b"".join([record for _e, record in keep]))
                except OSError as exc:
                    # No room (a full disk): stay on the old log, which still holds every
                    # pending record, move nothing, and try again at the next cycle.
                    self._active = old
                    self._pending = {e.key: (e, r) for e, r in moving} | pending
                    self._rotate_due = True
                    error = self._disk_error(exc, "its events stay in the log it fills now")
                    if str(error) != self._rotate_error:
                        self._rotate_error = str(error)
                        logger.warning("usage batcher spool: cannot rotate its log: %s", error)
                    return [], None
                self._rotate_error = ""
                self._rotate_due = True
            return moving, logs[old]

    def _wrap(self, exc: Exception) -> SpoolError:
        if isinstance(exc, sqlite3.Error):
            return self._unusable(exc)
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
            return self._disk_error(exc, "what it holds is kept")
        return SpoolError(f"the spool {self.path} failed: {exc!r}", path=self.path)

    def _transaction(
        self,
        conn: sqlite3.Connection,
        *,
        moving: list[SpooledEvent],
        settle: list[str],
        dead: dict[str, str],
        dead_rows: list[tuple[SpooledEvent, str]],
        ops: list[tuple[_Op, _Waiter]],
        beat: bool,
    ) -> list[tuple[_Waiter, Any, BaseException | None]]:
        results: list[tuple[_Waiter, Any, BaseException | None]] = []
        now, owner, account = time.time(), self.owner, self._account
        gone = set(settle)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if moving:
                conn.executemany(
                    "INSERT OR IGNORE INTO events (key, account, body, created_at, owner, "
                    "lease_until) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (e.key, account, e.body, e.created_at, owner, now + self.lease)
                        for e in moving
                        if e.key not in gone or e.key in dead
                    ],
                )
            if dead_rows:
                conn.executemany(
                    "INSERT OR REPLACE INTO dead (key, account, body, created_at, reason, "
                    "failed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [(e.key, account, e.body, e.created_at, why, now) for e, why in dead_rows],
                )
            if dead:
                conn.executemany(
                    "INSERT OR REPLACE INTO dead (key, account, body, created_at, reason, "
                    "failed_at) SELECT key, account, body, created_at, ?, ? FROM events "
                    "WHERE key = ?",
                    [(reason, now, key) for key, reason in dead.items()],
                )
            if settle:
                conn.executemany("DELETE FROM events WHERE key = ?", [(k,) for k in settle])
            if beat:
                conn.execute(
                    "UPDATE events SET lease_until = ? WHERE owner = ?", (now + self.lease, owner)
                )
            for op, waiter in ops:
                conn.execute("SAVEPOINT op")
                try:
                    result = op(conn)
                except Exception as exc:  # noqa: BLE001 (that op's waiter gets it)
                    conn.execute("ROLLBACK TO op")
                    error = exc if isinstance(exc, SpoolError) else self._wrap(exc)
                    results.append((waiter, None, error))
                else:
                    results.append((waiter, result, None))
                conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._finish_recovery(committed=False)
            raise
        self._finish_recovery(committed=True)
        return results


def _resolve_all(results: list[tuple[_Waiter, Any, BaseException | None]]) -> None:
    # Loop futures are resolved with one wake-up per loop, not one per waiter.
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
