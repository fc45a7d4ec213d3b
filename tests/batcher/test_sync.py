"""The sync batcher: many threads, exit without close, fork, and the loop-thread guard."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from autumn_async import AsyncAutumn, UsageError
from autumn_emulator import EmulatorThread
from autumn_sync import _portal
from autumn_sync._batcher import UsageBatcher

from ..conftest import INSTANT_RETRIES
from .conftest import ROOT, SCRIPTS, summary


@pytest.fixture
def client(emu_thread: EmulatorThread) -> Iterator[AsyncAutumn]:
    """An async client for the sync batcher, closed on the sync shim's loop."""
    autumn = AsyncAutumn(
        secret_key=emu_thread.secret_key, server_url=emu_thread.url, retry_config=INSTANT_RETRIES
    )
    yield autumn
    _portal.run(autumn.aclose())


def clean(stderr: str) -> str:
    """Stderr without asyncio debug mode's slow-callback notes (timing, not faults)."""
    return "".join(
        line
        for line in stderr.splitlines(keepends=True)
        if not (line.startswith("Executing <") and " took " in line)
    )


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a script of ``scripts/`` with this interpreter and wait for it."""
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("spool", [False, True])
def test_many_threads_feed_one_batcher(
    emu_thread: EmulatorThread, client: AsyncAutumn, tmp_path: Path, spool: bool
) -> None:
    """Eight threads tracking at once: every event lands exactly once."""
    path = tmp_path / "spool.db" if spool else None
    with UsageBatcher(client, mode="batch_track", flush_interval=0.01, spool_path=path) as b:
        threads = [
            threading.Thread(
                target=lambda: [
                    b.track(customer_id="c1", feature_id="messages", value=3) for _ in range(500)
                ]
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        b.flush()
        stats = b.stats
    assert (stats.enqueued, stats.delivered, stats.queued) == (4000, 4000, 0)
    assert summary(emu_thread.ledger()) == (4000, 4000, 12_000)


def test_sync_overflow_drop_newest_reports_in_the_callers_thread(
    emu_thread: EmulatorThread, client: AsyncAutumn
) -> None:
    """A full queue under ``drop_newest`` reports the drop without waiting."""
    drops: list[str] = []
    with UsageBatcher(
        client,
        overflow="drop_newest",
        max_queue=2,
        flush_interval=3600.0,
        on_drop=lambda e, r: drops.append(e.idempotency_key),
    ) as b:
        for i in range(3):
            b.track(customer_id="c1", feature_id="messages", idempotency_key=f"k{i}")
    assert drops == ["k2"]
    assert summary(emu_thread.ledger())[:2] == (2, 2)


def test_sync_block_waits_in_the_calling_thread(
    emu_thread: EmulatorThread, client: AsyncAutumn
) -> None:
    """Under ``block`` a full queue holds the caller until delivery frees room."""
    with UsageBatcher(client, overflow="block", max_queue=2, max_batch_size=2) as b:
        for _ in range(20):
            b.track(customer_id="c1", feature_id="messages")
        b.flush()
        assert (b.stats.delivered, b.stats.dropped) == (20, 0)


def test_track_on_the_loop_thread_is_refused(client: AsyncAutumn) -> None:
    """Calling the blocking ``track`` from the batcher's own loop raises, not deadlocks."""
    with UsageBatcher(client) as b:

        async def inside() -> None:
            b.track(customer_id="c1", feature_id="messages")

        with pytest.raises(UsageError):
            _portal.run(inside())


def test_exit_without_close_delivers_everything(emu_thread: EmulatorThread) -> None:
    """An un-closed sync batcher drains at interpreter exit."""
    proc = run_script("exit_without_close.py", emu_thread.url, "2000")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "tracked 2000"
    assert clean(proc.stderr) == ""
    assert summary(emu_thread.ledger()) == (2000, 2000, 2000)


def test_forked_child_delivers_only_its_own_events(emu_thread: EmulatorThread) -> None:
    """After fork the child starts empty; parent and child each send their own events once."""
    proc = run_script("fork_batcher.py", emu_thread.url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["child 5 5", "parent 13 13"]
    assert clean(proc.stderr) == ""
    keys = {event["idempotency_key"] for event in emu_thread.ledger()}
    assert len(keys) == 18
    assert sum(k.startswith("child-") for k in keys) == 5
    # Had the child also sent the parent's inherited events, Autumn would have seen more.
    assert emu_thread.stats()["/v1/balances.track"] == 18
