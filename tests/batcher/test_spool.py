"""The durable spool, through the batcher: kills, shared files, accounts, damaged files."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from autumn_async import AsyncAutumn, SpoolError, UsageError
from autumn_async._batcher import SQLiteSpool, account_fingerprint
from autumn_emulator import Emulator, EmulatorThread

from ..conftest import INSTANT_RETRIES
from .conftest import ROOT, SCRIPTS, summary

WORKER = str(SCRIPTS / "spool_worker.py")


def backlog(path: Path, url: str, key: str = "am_sk_test") -> int:
    """Events the spool still holds for the account (``url``, ``key``), via the product."""

    async def count() -> int:
        spool = SQLiteSpool(path)
        await spool.open(account_fingerprint(url, key))
        try:
            return await spool.backlog()
        finally:
            await spool.close()

    return asyncio.run(count())


def wait_for(condition: object, seconds: float = 30.0) -> None:
    """Poll ``condition()`` until it holds, failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def worker(emu: EmulatorThread, spool: Path, count: int, phase: str) -> subprocess.Popen[str]:
    """Start the spool worker script on ``emu``."""
    return subprocess.Popen(
        [sys.executable, WORKER, emu.url, str(spool), str(count), phase],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def resume(emu: EmulatorThread, spool: Path) -> dict[str, int]:
    """Deliver what ``spool`` holds in a fresh process; its batcher's counters."""
    proc = worker(emu, spool, 0, "resume")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stats: dict[str, int] = json.loads(out.splitlines()[-1])
    return stats


def test_killed_mid_delivery_resumes_without_loss_or_double_count(
    emu_thread: EmulatorThread, tmp_path: Path
) -> None:
    """SIGKILL mid-delivery, then a second run on the spool: exactly 5,000 events land."""
    spool = tmp_path / "spool.db"
    emu_thread.set_fault("/v1/balances.track", "latency", latency_ms=20)
    first = worker(emu_thread, spool, 5000, "enqueue")
    assert first.stdout is not None
    assert first.stdout.readline() == "enqueued\n"
    wait_for(lambda: len(emu_thread.ledger()) >= 20)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert first.returncode == -signal.SIGKILL
    assert 0 < len(emu_thread.ledger()) < 5000
    emu_thread.clear_faults()
    stats = resume(emu_thread, spool)
    assert stats["recovered"] == stats["delivered"] > 0
    assert summary(emu_thread.ledger()) == (5000, 5000, 10_000)
    assert backlog(spool, emu_thread.url) == 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sigkill_at_any_moment_loses_nothing_acknowledged(
    emu_thread: EmulatorThread, tmp_path: Path, mode: str
) -> None:
    """Killed while tracking in a loop (delivery running): every acknowledged event lands once."""
    spool = tmp_path / "spool.db"
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "spool_kill.py"), emu_thread.url, str(spool), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    acknowledged = -1
    while acknowledged < 3000:  # past the first full batches, so delivery is under way
        acknowledged = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    out, _err = proc.communicate()
    acknowledged = max([acknowledged, *(int(line) for line in out.split() if line.isdigit())])
    resume(emu_thread, spool)
    keys = [event["idempotency_key"] for event in emu_thread.ledger()]
    assert len(keys) == len(set(keys))  # none twice
    assert {f"ack-{i}" for i in range(acknowledged + 1)} <= set(keys)  # none lost


def test_processes_sharing_one_spool_count_each_event_once(
    emu_thread: EmulatorThread, tmp_path: Path
) -> None:
    """Three processes on one spool file: every event of each lands exactly once."""
    spool = tmp_path / "shared.db"
    procs = [worker(emu_thread, spool, 1000, "resume") for _ in range(3)]
    try:
        for proc in procs:
            _out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
    finally:  # one failing must not leave the others running into the next tests
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert summary(emu_thread.ledger()) == (3000, 3000, 6000)
    assert backlog(spool, emu_thread.url) == 0


async def test_undelivered_events_wait_in_the_spool_for_the_next_batcher(
    emu: Emulator, autumn: AsyncAutumn, tmp_path: Path
) -> None:
    """A stalled close keeps events on disk (no drop, no error); the next batcher sends them."""
    spool = tmp_path / "spool.db"
    emu.set_fault("/v1/balances.batch_track", "status", status=429, retry_after=60)
    drops: list[str] = []
    errors: list[BaseException] = []
    first = autumn.batcher(
        spool_path=spool,
        shutdown_timeout=0.1,
        on_drop=lambda e, r: drops.append(r),
        on_error=lambda e, x: errors.append(x),
    )
    for _ in range(50):
        await first.track(customer_id="c1", feature_id="messages")
    await first.aclose()
    assert (drops, errors) == ([], [])
    assert (first.stats.enqueued, first.stats.spooled) == (50, 50)
    emu.clear_faults()
    async with autumn.batcher(spool_path=spool) as second:
        await second.flush()
        assert (second.stats.recovered, second.stats.delivered) == (50, 50)
    assert summary(emu.ledger()) == (50, 50, 50)


async def test_coalescing_cannot_be_combined_with_a_spool(
    autumn: AsyncAutumn, tmp_path: Path
) -> None:
    """A spool cannot swap summed events for their sum atomically: refused up front."""
    with pytest.raises(UsageError) as caught:
        autumn.batcher(spool_path=tmp_path / "spool.db", coalesce=True)
    assert caught.value.field == "coalesce"


@pytest.mark.parametrize("bad", ["", b"spool.db", 123, "spool\x00.db"])
async def test_a_spool_path_that_names_no_file_is_refused(
    autumn: AsyncAutumn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: object
) -> None:
    """``spool_path=""`` (say ``os.environ.get("SPOOL", "")``) made SQLite open a private
    temporary database deleted on close: a spool that survives no crash, silently. A bytes
    path, a number or a NUL raised TypeError/ValueError or a misleading SpoolError, and a
    traceback rendered with locals then crashed on the half-built spool's repr."""
    import traceback

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        autumn.batcher(spool_path=bad)  # type: ignore[arg-type]
    assert caught.value.field == "spool_path"
    traceback.TracebackException.from_exception(caught.value, capture_locals=True).format()
    assert list(tmp_path.iterdir()) == []


async def test_events_of_another_account_are_left_in_place(
    emu: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Events spooled for one server URL/key are never sent by a client of another.

    Both URLs reach the same emulator, so a misdirected send would show in its ledger.
    """
    spool = tmp_path / "spool.db"
    port = emu.url.rsplit(":", 1)[1]
    sandbox = AsyncAutumn(
        secret_key=emu.secret_key,
        server_url=f"http://localhost:{port}",
        retry_config=INSTANT_RETRIES,
    )
    live = AsyncAutumn(secret_key=emu.secret_key, server_url=emu.url, retry_config=INSTANT_RETRIES)
    async with sandbox, live:
        emu.set_fault("/v1/balances.batch_track", "status", status=429, retry_after=60)
        first = sandbox.batcher(spool_path=spool, shutdown_timeout=0.1)
        for i in range(5):
            await first.track(customer_id="c1", feature_id="messages", idempotency_key=f"s{i}")
        await first.aclose()
        emu.clear_faults()
        caplog.clear()
        async with live.batcher(spool_path=spool) as other:
            await other.track(customer_id="c1", feature_id="messages", idempotency_key="live")
            await other.flush()
            assert other.stats.recovered == 0
        assert [e["idempotency_key"] for e in emu.ledger()] == ["live"]
        foreign = [r for r in caplog.records if "another account" in r.getMessage()]
        assert len(foreign) == 1
        assert foreign[0].levelno == logging.WARNING
        async with sandbox.batcher(spool_path=spool) as owner:
            await owner.flush()
            assert owner.stats.recovered == 5
    assert sorted(e["idempotency_key"] for e in emu.ledger()) == [
        "live",
        "s0",
        "s1",
        "s2",
        "s3",
        "s4",
    ]


def _damage(kind: str, path: Path) -> None:
    if kind == "garbage":
        path.write_bytes(b"this is not an SQLite database, just some text\n" * 100)
    elif kind == "foreign":
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("CREATE TABLE events (key TEXT PRIMARY KEY, body TEXT)")
            conn.execute("INSERT INTO events VALUES ('k', '{}')")
    else:  # truncated: a real spool with events, cut in the middle
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("CREATE TABLE filler (x BLOB)")
            conn.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,)] * 50)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2 + 100])


@pytest.mark.parametrize("kind", ["garbage", "foreign", "truncated"])
async def test_damaged_or_foreign_spool_file_is_a_clear_error_and_kept(
    autumn: AsyncAutumn, tmp_path: Path, kind: str
) -> None:
    """A spool file that is not ours or not whole: ``SpoolError`` naming it; never deleted."""
    spool = tmp_path / "usage.db"
    _damage(kind, spool)
    before = spool.read_bytes()
    batcher = autumn.batcher(spool_path=spool)
    with pytest.raises(SpoolError) as caught:
        await batcher.__aenter__()
    assert caught.value.path == str(spool)
    assert str(spool) in str(caught.value)
    assert "move it aside" in str(caught.value)
    assert spool.read_bytes() == before


async def test_unencodable_properties_are_refused_and_give_the_slot_back(
    autumn: AsyncAutumn, tmp_path: Path
) -> None:
    """Bad properties raise ``UsageError`` at track() and never hold a queue slot."""
    async with autumn.batcher(spool_path=tmp_path / "s.db", max_queue=1, block_timeout=5) as b:
        for bad in ({"when": object()}, {"n": float("inf")}, {1: "non-string key"}):
            with pytest.raises(UsageError) as caught:
                await b.track(customer_id="c1", feature_id="messages", properties=bad)
            assert caught.value.field is not None
            assert "properties" in caught.value.field
        await b.track(customer_id="c1", feature_id="messages", properties={"ok": 1})
        await b.flush()
        assert (b.stats.enqueued, b.stats.delivered, b.stats.dropped) == (1, 1, 0)


async def test_many_first_track_calls_at_once_start_the_batcher_once(
    emu: Emulator, autumn: AsyncAutumn, tmp_path: Path
) -> None:
    """200 concurrent first ``track()`` calls while the spool opens: one start, all delivered."""
    batcher = autumn.batcher(spool_path=tmp_path / "s.db", flush_interval=0.01)
    await asyncio.gather(
        *(batcher.track(customer_id="c1", feature_id="messages") for _ in range(200))
    )
    await batcher.aclose()
    assert (batcher.stats.enqueued, batcher.stats.delivered) == (200, 200)
    assert summary(emu.ledger()) == (200, 200, 200)
