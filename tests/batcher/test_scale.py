"""Scale: many processes with default options, exit without close, a stalled close.

Bounded in time by the defaults themselves: ``batch_track`` at 2 requests/s of 1,000
events per process, so 12,500 events take about 6 s whatever the machine.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys

from autumn_async import AsyncAutumn, OutcomeUnknownError
from autumn_async._batcher import UsageEvent
from autumn_emulator import Emulator, EmulatorThread

from .conftest import ROOT, SCRIPTS
from .test_close import adds_up

SCRIPT = str(SCRIPTS / "scale_worker.py")


def start(emu: EmulatorThread, count: int, tag: str, ending: str) -> subprocess.Popen[str]:
    """One worker process tracking ``count`` events with default batcher options."""
    return subprocess.Popen(
        [sys.executable, SCRIPT, emu.url, str(count), tag, ending],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def finish(proc: subprocess.Popen[str]) -> dict[str, int]:
    """Wait for a worker; its batcher's counters."""
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    stats: dict[str, int] = json.loads(out.splitlines()[-1])
    return stats


def test_four_processes_with_defaults_deliver_all_50000_once(emu_thread: EmulatorThread) -> None:
    """4 processes x 12,500 events, default options, 10 ms latency, close(): 50,000 once."""
    emu_thread.set_fault("/v1/balances.batch_track", "latency", latency_ms=10)
    procs = [start(emu_thread, 12_500, f"p{n}", "close") for n in range(4)]
    for proc in procs:
        stats = finish(proc)
        assert (stats["enqueued"], stats["delivered"], stats["dropped"]) == (12_500, 12_500, 0)
        assert stats["failed"] == stats["outcome_unknown"] == 0
    keys = collections.Counter(event["idempotency_key"] for event in emu_thread.ledger())
    assert len(keys) == 50_000
    assert set(keys.values()) == {1}


def test_plain_exit_without_close_delivers_5000(emu_thread: EmulatorThread) -> None:
    """A sync batcher never closed: interpreter exit delivers all 5,000 events, once."""
    emu_thread.set_fault("/v1/balances.batch_track", "latency", latency_ms=10)
    stats = finish(start(emu_thread, 5_000, "exit", "exit"))
    assert stats["enqueued"] == 5_000
    keys = collections.Counter(event["idempotency_key"] for event in emu_thread.ledger())
    assert len(keys) == 5_000
    assert set(keys.values()) == {1}


async def test_short_limit_against_a_slow_server_drops_only_unsent_events(
    emu: Emulator, autumn: AsyncAutumn
) -> None:
    """A stall limit far below the server's latency: drops are true and the totals add up."""
    emu.set_fault("/v1/balances.track", "latency", latency_ms=400)
    drops: list[UsageEvent] = []
    errors: list[tuple[UsageEvent, BaseException]] = []
    batcher = autumn.batcher(
        mode="track",
        max_concurrency=4,
        shutdown_timeout=0.05,
        on_drop=lambda e, r: drops.append(e),
        on_error=lambda e, x: errors.append((e, x)),
    )
    for i in range(500):
        await batcher.track(customer_id="c1", feature_id="messages", idempotency_key=f"s{i}")
    await batcher.aclose()
    stats = batcher.stats
    ledger = {event["idempotency_key"] for event in emu.ledger()}
    assert drops
    assert not {event.idempotency_key for event in drops} & ledger
    assert all(isinstance(error, OutcomeUnknownError) for _event, error in errors)
    assert stats.delivered == len(ledger - {event.idempotency_key for event, _ in errors})
    assert stats.dropped == len(drops)
    assert adds_up(stats)
    assert stats.enqueued == 500
    assert stats.queued == stats.in_flight == 0


def test_async_batcher_left_open_delivers_at_exit(emu_thread: EmulatorThread) -> None:
    """An async batcher never closed, its loop ended: interpreter exit delivers its events."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "async_exit_without_close.py"), emu_thread.url, "1500"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["tracked", "1500", "delivered", "0"]
    keys = collections.Counter(event["idempotency_key"] for event in emu_thread.ledger())
    assert len(keys) == 1500
    assert set(keys.values()) == {1}
