"""Dead letters: Autumn's 24 h window, poison entries, unreadable entries, operator commands."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest

from autumn_async._fleet._claims import DEDUPE_WINDOW
from autumn_async._fleet._redis_spool import RedisSpool

from .conftest import ROOT, event, every_redis, opened
from .redis_server import RedisServer
from .test_redis_spool import claim_all

DAY = 24 * 3600.0


def fleet(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m autumn_async.fleet`` and return its result."""
    return subprocess.run(
        [sys.executable, "-m", "autumn_async.fleet", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip


@every_redis
async def test_redelivery_after_the_24h_window_is_dead_lettered(redis_server: RedisServer) -> None:
    """A reclaimed event older than 23 h is dead-lettered, not resent (fake clock: +24 h)."""
    first = RedisSpool(redis_server.url, lease=0.5)
    await first.open("acct")
    events = [event() for _ in range(4)]
    await first.put(events)
    assert len(await first.claim(4)) == 4  # sent once, then its worker died
    first.after_fork_in_child()
    later = RedisSpool(redis_server.url, lease=0.5, clock=lambda: time.time() + DAY)
    await later.open("acct")
    deadline = time.monotonic() + 10
    while (await later.status())["dead_letters"] < 4:
        assert time.monotonic() < deadline
        assert await later.claim(10, wait=0.1) == []
    letters = await later.dead_letters()
    assert {d.key for d in letters} == {e.key for e in events}
    assert {d.reason for d in letters} == {"dedupe_window_expired"}
    status = await later.status()
    assert (status["pending"], status["entries"]) == (0, 0)
    assert status["counters"]["dead_lettered:dedupe_window_expired"] == 4
    await later.close()


async def test_first_delivery_of_an_old_event_is_sent(spool: RedisSpool) -> None:
    """An event never sent before goes out even when older than the window (no resend risk)."""
    old = event(created_at=time.time() - DEDUPE_WINDOW - 60)
    await spool.put([old])
    assert [e.key for e in await spool.claim(1)] == [old.key]


@every_redis
async def test_poison_entry_is_dead_lettered_after_the_delivery_cap(
    redis_server: RedisServer,
) -> None:
    """An entry whose workers keep dying is dead-lettered 'poison' after max_deliveries."""
    e = event()
    producer = RedisSpool(redis_server.url, lease=0.3, max_deliveries=2)
    await producer.open("acct")
    await producer.put([e])
    for _ in range(2):  # two workers take it and die
        worker = RedisSpool(redis_server.url, lease=0.3, max_deliveries=2)
        await worker.open("acct")
        assert len(await claim_all(worker, 1)) == 1
        worker.after_fork_in_child()
    last = RedisSpool(redis_server.url, lease=0.3, max_deliveries=2)
    await last.open("acct")
    deadline = time.monotonic() + 10
    while (await last.status())["dead_letters"] == 0:
        assert time.monotonic() < deadline
        assert await last.claim(1, wait=0.1) == []
    [letter] = await last.dead_letters()
    assert (letter.key, letter.reason) == (e.key, "poison")
    await last.close()
    await producer.close()


async def test_unreadable_entry_is_dead_lettered(spool: RedisSpool) -> None:
    """An entry of an unknown schema is moved to the dead letters with the reason."""
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(spool.url)
    # As a newer producer's PUT would write it: the fields of every version, counted.
    entry = {"v": "99", "a": spool.account or "", "k": "k1", "t": "1.0", "b": "{}", "x": "y"}
    await admin.xadd(spool.stream, entry)
    await admin.incrby(f"{spool.stream}:events", 1)
    await admin.aclose()
    assert await spool.claim(10) == []
    [letter] = await spool.dead_letters()
    assert letter.reason.startswith("malformed")
    assert (await spool.status())["pending"] == 0


async def test_settle_with_dead_writes_dead_letters_with_the_ack(spool: RedisSpool) -> None:
    """Dead letters and the ack of their entry happen together."""
    events = [event() for _ in range(3)]
    await spool.put(events)
    held = await spool.claim(3)
    await spool.settle([held[0].key], dead={held[1].key: "rejected:400:invalid_inputs"})
    assert (await spool.status())["dead_letters"] == 0  # entry not finished yet
    await spool.settle([], dead={held[2].key: "outcome_unknown"})
    status = await spool.status()
    assert (status["dead_letters"], status["pending"], status["entries"]) == (2, 0, 0)


async def test_other_accounts_events_are_left_in_place(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker of account B warns once and never delivers account A's events."""
    a = await opened(redis_server.url, "account-a", lease=600)
    b = await opened(redis_server.url, "account-b", lease=600)
    await a.put([event() for _ in range(3)])
    caplog.set_level(logging.WARNING, "autumn_balances.fleet")
    assert await b.claim(10) == []
    assert sum("another Autumn account" in r.message for r in caplog.records) == 1
    assert len(await a.claim(10)) == 3  # handed back at once
    await a.close()
    await b.close()


async def test_cli_status_and_dead_letters(redis_server: RedisServer) -> None:
    """status --json has pending and dead_letters; list, requeue and drop work."""
    spool = RedisSpool(redis_server.url)
    await spool.open("acct")
    events = [event() for _ in range(3)]
    await spool.put(events)
    held = await spool.claim(3)
    await spool.settle([], dead={e.key: "outcome_unknown" for e in held})
    await spool.close()
    status = json.loads(fleet("status", "--redis", redis_server.url, "--json").stdout)
    assert (status["pending"], status["dead_letters"]) == (0, 3)
    listed = fleet("dead-letters", "list", "--redis", redis_server.url, "--json").stdout
    letters = [json.loads(line) for line in listed.splitlines()]
    assert {d["key"] for d in letters} == {e.key for e in events}
    requeued = fleet("dead-letters", "requeue", "--redis", redis_server.url, letters[0]["id"])
    assert requeued.stdout.strip() == "requeued 1"
    dropped = fleet("dead-letters", "drop", "--redis", redis_server.url, "--all")
    assert dropped.stdout.strip() == "dropped 2"
    status = json.loads(fleet("status", "--redis", redis_server.url, "--json").stdout)
    assert (status["pending"], status["dead_letters"], status["entries"]) == (1, 0, 1)
    spool = RedisSpool(redis_server.url)
    await spool.open("acct")
    [back] = await spool.claim(10)
    assert (back.key, back.body) == (letters[0]["key"], letters[0]["body"].encode())
    await spool.close()
