"""Fixtures for the fleet tests: a real redis-server, a seeded emulator, track bodies."""

from __future__ import annotations

import collections
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from autumn_async._fleet._codec import account_fingerprint
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async._fleet._spool import SpooledEvent
from autumn_emulator import EmulatorThread

from .redis_server import RedisServer

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parents[2]
GRANT = 1_000_000_000


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server with AOF on (appendfsync always)."""
    server = RedisServer(tmp_path / "redis-data")
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
