"""The durable spool: on disk before track returns, resent after a crash, shared safely."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from autumn_async import AsyncAutumn
from autumn_emulator import Emulator, EmulatorThread

from .conftest import ROOT, SCRIPTS, summary

WORKER = str(SCRIPTS / "spool_worker.py")


def rows(path: Path) -> int:
    """Events still in the spool file."""
    # closing(): a connection's own `with` only commits; Python 3.13 warns about the leak.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])


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
    assert rows(spool) > 0
    emu_thread.clear_faults()
    second = worker(emu_thread, spool, 0, "resume")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    stats = json.loads(out.splitlines()[-1])
    assert stats["recovered"] == stats["delivered"] > 0
    assert summary(emu_thread.ledger()) == (5000, 5000, 10_000)
    assert rows(spool) == 0


def test_processes_sharing_one_spool_count_each_event_once(
    emu_thread: EmulatorThread, tmp_path: Path
) -> None:
    """Three processes on one spool file: every event of each lands exactly once."""
    spool = tmp_path / "shared.db"
    procs = [worker(emu_thread, spool, 1000, "resume") for _ in range(3)]
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert summary(emu_thread.ledger()) == (3000, 3000, 6000)
    assert rows(spool) == 0


async def test_event_is_on_disk_before_track_returns(autumn: AsyncAutumn, tmp_path: Path) -> None:
    """``track`` returns only once the event's row is committed."""
    spool = tmp_path / "spool.db"
    async with autumn.batcher(spool_path=spool, flush_interval=3600.0) as b:
        await b.track(customer_id="c1", feature_id="messages", idempotency_key="durable")
        with contextlib.closing(sqlite3.connect(spool)) as conn:
            assert conn.execute("SELECT key FROM events").fetchall() == [("durable",)]
        await b.flush()
        with contextlib.closing(sqlite3.connect(spool)) as conn:
            assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)


async def test_undelivered_events_wait_in_the_spool_for_the_next_batcher(
    emu: Emulator, autumn: AsyncAutumn, tmp_path: Path
) -> None:
    """Closing with events undelivered keeps them on disk; the next batcher sends them."""
    spool = tmp_path / "spool.db"
    emu.set_fault("/v1/balances.batch_track", "status", status=503, retry_after=0)
    drops: list[str] = []
    first = autumn.batcher(
        mode="batch_track",
        spool_path=spool,
        shutdown_timeout=0.1,
        on_drop=lambda e, r: drops.append(r),
    )
    for _ in range(50):
        await first.track(customer_id="c1", feature_id="messages")
    await first.aclose()
    assert drops == []
    assert rows(spool) == 50
    emu.clear_faults()
    async with autumn.batcher(spool_path=spool) as second:
        await second.flush()
        assert (second.stats.recovered, second.stats.delivered) == (50, 50)
    assert summary(emu.ledger()) == (50, 50, 50)


async def test_coalescing_with_a_spool_replaces_rows_atomically(
    emu: Emulator, autumn: AsyncAutumn, tmp_path: Path
) -> None:
    """Coalesced events are swapped for their sum in the spool before the sum is sent."""
    spool = tmp_path / "spool.db"
    async with autumn.batcher(spool_path=spool, coalesce=True, max_batch_size=500) as b:
        for _ in range(1000):
            await b.track(customer_id="c1", feature_id="messages")
        await b.flush()
        assert b.stats.delivered == 1000
    events, _keys, total = summary(emu.ledger())
    assert total == 1000
    assert events <= 4
    assert rows(spool) == 0
