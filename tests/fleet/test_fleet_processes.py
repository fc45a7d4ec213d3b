"""The fleet end to end, in separate processes, against redis-server and the emulator.

Every test ends with the emulator's ledger: each event handed over counted exactly once.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from autumn_async._fleet._redis_spool import RedisSpool
from autumn_emulator import EmulatorThread

from .conftest import (
    ROOT,
    SCRIPTS,
    Workers,
    account_of,
    assert_acknowledged_once,
    assert_exactly_once,
    delivered_by_a_worker,
    drained,
    event,
    every_redis,
    hand_over,
    killed_after,
    opened,
    until,
)
from .redis_server import RedisServer

pytestmark = pytest.mark.slow
ROUTE = "/v1/balances.batch_track"


async def applied(emu: EmulatorThread) -> bool:
    """Whether Autumn has applied anything yet."""
    return len(emu.ledger()) > 0


def producer(
    redis: RedisServer, emu: EmulatorThread, events: int, threads: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / "produce.py"), redis.url, account_of(emu), str(events),
         str(threads)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


async def test_producers_and_workers_in_separate_processes(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """Two producer processes and two workers: every event is counted exactly once."""
    spool = RedisSpool(redis_server.url)
    await spool.open(account_of(emu))
    fleet = [workers.start(), workers.start()]
    producers = [producer(redis_server, emu, 600, 4) for _ in range(2)]
    keys: set[str] = set()
    for proc in producers:
        out, _ = await asyncio.to_thread(proc.communicate, timeout=60)
        lines = out.split()
        assert lines[-1] == "done"
        keys.update(lines[:-1])
    assert len(keys) == 1200
    await until(lambda: drained(spool))
    assert [workers.terminate(p) for p in fleet] == [0, 0]
    assert_exactly_once(emu.ledger(), keys)
    status = await spool.status()
    assert (status["pending"], status["dead_letters"], status["consumers"]) == (0, 0, [])
    await spool.close()


@every_redis
async def test_worker_killed_mid_batch_while_answers_are_lost(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """A worker SIGKILLed mid-batch, 10 % of answers dropped after applying: exact ledger."""
    emu.set_fault(ROUTE, "drop_after", probability=0.1, seed=7)
    emu.set_fault(ROUTE, "latency", latency_ms=150)
    spool = await opened(redis_server.url, account_of(emu))
    events = await hand_over(spool, 3000)
    doomed = workers.start()
    await until(lambda: applied(emu))
    doomed.kill()  # SIGKILL, requests in flight
    doomed.wait()
    assert len(emu.ledger()) < 3000
    survivor = workers.start()
    await until(lambda: drained(spool))
    assert workers.terminate(survivor) == 0
    assert_exactly_once(emu.ledger(), {e.key for e in events})
    assert (await spool.status())["counters"]["reclaimed"] >= 1
    await spool.close()


async def test_producer_killed_right_after_track_returned(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """Every event whose hand-over returned before a producer's SIGKILL is delivered once."""
    proc = producer(redis_server, emu, 100_000, 4)
    acknowledged = killed_after(proc, 300)
    handed_over = await delivered_by_a_worker(workers, account_of(emu))
    assert_acknowledged_once(emu.ledger(), acknowledged, handed_over)


async def test_redis_restart_loses_nothing(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """Redis SIGKILLed and restarted mid-delivery (AOF, fsync always): exact ledger."""
    emu.set_fault(ROUTE, "latency", latency_ms=50)
    spool = await opened(redis_server.url, account_of(emu))
    first = await hand_over(spool, 2000)
    worker = workers.start()
    await until(lambda: applied(emu))
    redis_server.stop(kill=True)
    redis_server.start()
    second = [event() for _ in range(500)]
    await spool.put(second)
    await until(lambda: drained(spool))
    assert workers.terminate(worker) == 0
    assert_exactly_once(emu.ledger(), {e.key for e in first + second})
    await spool.close()


@every_redis
async def test_sigterm_hands_unfinished_entries_back_at_once(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """SIGTERM: exit 0 within the drain bound; a peer takes the rest without waiting a lease."""
    emu.set_fault(ROUTE, "latency", latency_ms=3000)
    spool = await opened(redis_server.url, account_of(emu))
    events = await hand_over(spool, 400)
    leaving = workers.start(lease=600, drain=0.5)

    async def sending() -> bool:
        return (await spool.status())["claimed_entries"] >= 2

    await until(sending)
    started = time.monotonic()
    assert workers.terminate(leaving) == 0
    assert time.monotonic() - started < 5.0  # claim wait (1 s) + drain (0.5 s) + exit
    status = await spool.status()
    assert status["consumers"][0]["pending"] >= 1  # handed back, never DELCONSUMER'd
    emu.clear_faults()
    peer = workers.start(lease=600)  # a lease this long: only a hand-back lets it in
    await until(lambda: drained(spool), timeout=30)
    assert workers.terminate(peer) == 0
    assert_exactly_once(emu.ledger(), {e.key for e in events})
    await spool.close()
