"""The batcher's parts on their own: the queue's admission, coalescing, the SQLite spool."""

from __future__ import annotations

import asyncio
import glob
import logging
import threading
import time
from pathlib import Path

import pytest

from autumn_async import SpoolError, UsageError
from autumn_async._batcher import Spool, SpooledEvent, SQLiteSpool, _sqlite
from autumn_async._batcher._events import QueuedEvent, coalesce
from autumn_async._batcher._queue import EventQueue, Overflow
from autumn_async._batcher._sqlite import _record, read_log

ACCOUNT = "a" * 32


def event(key: str, value: int = 1, **extra: object) -> QueuedEvent:
    body = {"customer_id": "c1", "feature_id": "f", "value": value, "idempotency_key": key}
    body.update(extra)
    return QueuedEvent(key, body, 0, coalescable="properties" not in extra)


def queue(size: int, overflow: Overflow, block_timeout: float | None = None) -> EventQueue:
    return EventQueue(size, 10, lambda: None, overflow=overflow, block_timeout=block_timeout)


# -- the queue -------------------------------------------------------------------------


def test_drop_newest_refuses_once_full() -> None:
    q = queue(2, "drop_newest")
    for key in ("a", "b"):
        assert q.admit() == (True, None, "")
        q.push(event(key))
    assert q.admit() == (False, None, "queue_full")


def test_drop_oldest_hands_the_oldest_slot_to_the_newcomer() -> None:
    q = queue(2, "drop_oldest")
    for key in ("a", "b"):
        q.admit()
        q.push(event(key))
    ok, evicted, _ = q.admit()
    assert ok
    assert evicted is not None
    assert evicted.key == "a"
    assert q.stats().queued == 2


def test_block_waits_in_the_calling_thread_until_room_is_freed() -> None:
    q = queue(1, "block", block_timeout=10.0)
    q.admit()
    q.push(event("a"))
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(q.admit()))
    waiter.start()
    while not q.space._waiters:  # type: ignore[attr-defined]
        time.sleep(0.001)
    assert results == []
    q.take(1)  # the dispatcher takes the event: its room goes to the waiting thread
    waiter.join(10)
    assert results == [(True, None, "")]


async def test_block_waits_on_the_loop_until_room_is_freed() -> None:
    q = queue(1, "block", block_timeout=10.0)
    await q.admit_async()
    q.push(event("a"))
    task = asyncio.ensure_future(q.admit_async())
    await asyncio.sleep(0.01)
    assert not task.done()
    q.take(1)
    assert await asyncio.wait_for(task, 10) == (True, None, "")


def test_block_timeout_gives_up_with_a_reason() -> None:
    q = queue(1, "block", block_timeout=0.05)
    q.admit()
    assert q.admit() == (False, None, "block_timeout")


def test_admission_after_close_is_a_usage_error() -> None:
    q = queue(1, "block")
    q.close()
    with pytest.raises(UsageError):
        q.admit()


async def test_async_block_times_out_with_a_reason() -> None:
    q = queue(1, "block", block_timeout=0.05)
    await q.admit_async()
    assert await q.admit_async() == (False, None, "block_timeout")


# -- coalescing ------------------------------------------------------------------------


def test_coalesce_sums_one_group_and_keeps_the_others_in_order() -> None:
    events = [event("a", 2), event("b", 3), event("c", -1), event("d", 1, properties={"x": 1})]
    out = coalesce(events)
    summed = [e for e in out if e.members is not None]
    assert len(summed) == 1
    assert summed[0].body["value"] == 5
    assert summed[0].count == 2
    assert summed[0].key not in {"a", "b"}
    assert {e.key for e in out if e.members is None} == {"c", "d"}


# -- the SQLite spool on its own -------------------------------------------------------


def spooled(*keys: str) -> list[SpooledEvent]:
    return [SpooledEvent(key, b'{"k":"%s"}' % key.encode(), time.time()) for key in keys]


async def test_sqlite_spool_implements_the_protocol(tmp_path: Path) -> None:
    spool = SQLiteSpool(tmp_path / "s.db")
    assert isinstance(spool, Spool)
    await spool.open(ACCOUNT)
    await spool.put(spooled("a", "b", "c"))
    assert await spool.backlog() == 3
    assert await spool.claim(10) == []  # ours already: nobody else may take them
    await spool.settle(["a"], dead={"b": "refused"})
    await spool.settle(["b"])
    assert await spool.backlog() == 1
    await spool.release(["c"])
    other = SQLiteSpool(tmp_path / "s.db")
    await other.open(ACCOUNT)
    assert [e.key for e in await other.claim(10)] == ["c"]
    await other.close()
    await spool.close()


async def test_a_live_owners_events_are_not_claimed_a_dead_ones_are(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    alive = SQLiteSpool(path)
    await alive.open(ACCOUNT)
    await alive.put(spooled("mine"))
    other = SQLiteSpool(path)
    await other.open(ACCOUNT)
    assert await other.claim(10) == []
    alive._close_logs(remove=False)  # what the kernel does when the process dies
    assert [e.key for e in await other.claim(10)] == ["mine"]
    await other.close()


async def test_a_peer_starting_meanwhile_never_takes_a_log_being_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes starting on one spool file at once (seen in the suite: "Resource
    temporarily unavailable" from one of three workers). A peer's start recovers dead
    owners' logs, the unlocked ones; a log that existed before its owner locked it was
    taken for dead, recovered and removed, and its owner then wrote to a removed file."""
    path = tmp_path / "s.db"
    starting, peer = SQLiteSpool(path), SQLiteSpool(path)
    made = _sqlite._Log.__init__
    peers: list[threading.Thread] = []

    def made_then_peer_starts(log: _sqlite._Log, name: str) -> None:
        made(log, name)
        if not peers:  # the peer's whole start runs between this log's making and its lock
            peers.append(threading.Thread(target=lambda: asyncio.run(peer.open(ACCOUNT))))
            peers[0].start()
            peers[0].join()

    monkeypatch.setattr(_sqlite._Log, "__init__", made_then_peer_starts)
    await starting.open(ACCOUNT)
    await starting.put(spooled("acknowledged"))
    starting._close_logs(remove=False)  # it dies: the kernel drops its lock
    assert [e.key for e in await peer.claim(10)] == ["acknowledged"]
    await peer.close()


async def test_torn_and_corrupt_log_records_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead owner's log: a flipped byte and a torn tail cost only their own records."""
    path = tmp_path / "s.db"
    dead = SQLiteSpool(path)
    await dead.open(ACCOUNT)
    dead._lock.acquire()  # keep the spool thread from moving the log into SQLite
    try:
        dead._pending = {}
        for key in ("k0", "k1", "k2", "k3"):
            dead._logs[0].append(_record(ACCOUNT.encode(), spooled(key)[0]))
        dead._logs[0].append(_record(ACCOUNT.encode(), spooled("torn")[0])[:-3])
    finally:
        dead._lock.release()
    dead._close_logs(remove=False)
    [log] = glob.glob(f"{path}-log.*.0")
    data = bytearray(Path(log).read_bytes())
    second = data.index(b"k1")
    data[second] ^= 0xFF  # corrupt record k1's payload
    Path(log).write_bytes(bytes(data))
    caplog.set_level(logging.WARNING)
    heir = SQLiteSpool(path)
    await heir.open(ACCOUNT)
    assert sorted(e.key for e in await heir.claim(10)) == ["k0", "k2", "k3"]
    assert any("2 damaged record" in r.getMessage() for r in caplog.records)
    assert glob.glob(f"{path}-log.*") == glob.glob(f"{path}-log.{heir.owner}.*")
    await heir.close()


def test_read_log_resynchronises_after_damage() -> None:
    records = [_record(b"acc", e) for e in spooled("a", "b", "c")]
    data = bytearray(b"".join(records))
    data[len(records[0]) + 20] ^= 0x01
    got, bad = read_log(bytes(data))
    assert [e.key for _account, e in got] == ["a", "c"]
    assert bad == 1
    got, bad = read_log(b"".join(records)[:-1])
    assert [e.key for _account, e in got] == ["a", "b"]
    assert bad == 1


# -- a batcher whose construction failed -------------------------------------------------


@pytest.mark.parametrize(
    "bad", [{"max_batch_size": "x"}, {"flush_interval": float("nan")}, {"mode": "nope"}]
)
def test_a_refused_option_renders_with_capture_locals(bad: dict[str, object]) -> None:
    """The half-built batcher sits in ``self`` of the frame that raised: an error tracker
    rendering locals (``capture_locals=True``) calls its repr, which must not raise."""
    import traceback

    from autumn_async import AsyncAutumn
    from autumn_sync import Autumn

    sync = Autumn(secret_key="am_sk_test_0123456789abcdef", server_url="http://127.0.0.1:1")
    try:
        with pytest.raises(UsageError) as sync_error:
            sync.batcher(**bad)  # type: ignore[arg-type]
    finally:
        sync.close()
    async_client = AsyncAutumn(
        secret_key="am_sk_test_0123456789abcdef", server_url="http://127.0.0.1:1"
    )
    with pytest.raises(UsageError) as async_error:
        async_client.batcher(**bad)  # type: ignore[arg-type]
    for info in (sync_error, async_error):
        rendered = "".join(
            traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
        )
        assert "not built" in rendered


# -- a full disk under the spool's logs ----------------------------------------------------


def test_a_spool_log_has_its_blocks_allocated(tmp_path: Path) -> None:
    """A log made only with ftruncate is sparse: on a full disk, the first copy into an
    unbacked page of its mapping killed the whole process with SIGBUS (seen on a 12 MiB
    tmpfs: exit 135 from ``track()``). Its blocks must exist before anything is copied."""
    import os

    from autumn_async._batcher import _sqlite

    if _sqlite._fallocate is None:
        pytest.skip("no posix_fallocate on this platform")
    log = _sqlite._Log(str(tmp_path / "log"))
    try:
        assert os.fstat(log.fd).st_blocks * 512 >= log.INITIAL
        log.append(b"x" * (log.INITIAL + 1))  # grows
        assert os.fstat(log.fd).st_blocks * 512 >= len(log.map)
        log.clear()
        assert os.fstat(log.fd).st_blocks * 512 >= len(log.map)
    finally:
        log.close()


async def test_no_room_for_the_log_is_an_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the disk full, ``put`` raises SpoolError naming the file (the event is not
    acknowledged) and a rotation that cannot carry pending records over keeps them in
    the old log."""
    import errno

    from autumn_async._batcher import _sqlite

    spool = SQLiteSpool(tmp_path / "s.db")
    await spool.open(ACCOUNT)
    try:
        await spool.put(spooled("a"))
        real = _sqlite._fallocate

        def full(fd: int, offset: int, size: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(_sqlite, "_fallocate", full)
        with pytest.raises(SpoolError) as caught:  # past the log's allocated blocks
            await spool.put([SpooledEvent("big", b"x" * (5 << 20), time.time())])
        assert caught.value.errno == errno.ENOSPC
        assert caught.value.path == spool.path
        assert "Free space" in str(caught.value)
        with spool._lock:
            for log in spool._logs:
                log.reserved = 0  # as after a clear whose allocation failed
        moving, old = spool._rotate(closing=False)  # carries "a" over: no room
        assert (moving, old) == ([], None)
        assert "a" in spool._pending
        monkeypatch.setattr(_sqlite, "_fallocate", real)
        assert await spool.backlog() >= 1
    finally:
        await spool.close()
