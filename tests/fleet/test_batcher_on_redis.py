"""``autumn.batcher(spool=RedisSpool(url))``: producing, delivering, and both, end to end.

Producers go through the batcher (``deliver=False`` hands events to Redis only);
delivery is a worker process (``python -m autumn_async.fleet run``) or a delivering
batcher. Every test ends with the emulator's ledger: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from autumn_async import AsyncAutumn, UsageError
from autumn_async._fleet._redis_spool import RedisSpool
from autumn_emulator import EmulatorThread
from autumn_sync import Autumn

from .conftest import (
    ROOT,
    SCRIPTS,
    Workers,
    account_of,
    assert_acknowledged_once,
    assert_exactly_once,
    delivered_by_a_worker,
    killed_after,
)
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


def client(emu: EmulatorThread) -> AsyncAutumn:
    return AsyncAutumn(secret_key=emu.secret_key, server_url=emu.url)


async def track_many(batcher: object, n: int, *, together: int = 50) -> list[str]:
    """``n`` track() calls, ``together`` at a time (bursts share one write); their keys."""
    keys = [uuid.uuid4().hex for _ in range(n)]
    for start in range(0, n, together):
        await asyncio.gather(
            *(
                batcher.track(  # type: ignore[attr-defined]
                    customer_id="c1", feature_id="messages", value=1, idempotency_key=key
                )
                for key in keys[start : start + together]
            )
        )
    return keys


async def test_sync_producer_killed_right_after_track_returned(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """Sync batcher, deliver=False, default options, SIGKILL after 3,000 track() returned."""
    env = {**os.environ, "AUTUMN_SECRET_KEY": emu.secret_key}
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "track_producer.py"), redis_server.url, emu.url, "100000"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    acknowledged = killed_after(proc, 3000)
    assert "done" not in acknowledged and len(acknowledged) >= 3000
    handed_over = await delivered_by_a_worker(workers, account_of(emu))
    assert_acknowledged_once(emu.ledger(), acknowledged, handed_over)


async def test_async_producer_hands_over_and_close_returns_with_all_in_redis(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """AsyncAutumn.batcher(deliver=False): after aclose() every event is in Redis, once."""
    async with client(emu) as autumn:
        batcher = autumn.batcher(spool=RedisSpool(redis_server.url), deliver=False)
        keys = await track_many(batcher, 2000)
        await batcher.aclose()
        stats = batcher.stats
        assert (stats.enqueued, stats.spooled, stats.delivered) == (2000, 2000, 0)
    assert emu.ledger() == []  # nothing delivered by the producer
    spool = RedisSpool(redis_server.url)
    await spool.open(account_of(emu))
    assert await spool.backlog() == 2000
    status = await spool.status()
    await spool.close()
    assert status["entries"] < 2000  # bursts shared writes
    assert await delivered_by_a_worker(workers, account_of(emu)) == 2000
    assert_exactly_once(emu.ledger(), set(keys))


async def test_delivering_batcher_on_redis(redis_server: RedisServer, emu: EmulatorThread) -> None:
    """batcher(spool=RedisSpool(url)) produces and delivers; close() leaves nothing behind."""
    async with client(emu) as autumn:
        batcher = autumn.batcher(spool=RedisSpool(redis_server.url, lease=1.0))
        keys = await track_many(batcher, 1500)
        await batcher.aclose()
        stats = batcher.stats
    assert stats.delivered == 1500 and stats.failed == stats.dropped == 0
    assert_exactly_once(emu.ledger(), set(keys))
    spool = RedisSpool(redis_server.url)
    await spool.open(account_of(emu))
    assert await spool.backlog() == 0
    await spool.close()


async def test_max_backlog_meets_the_overflow_policy(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """Beyond max_backlog: drop_newest reports to on_drop, block gives up at block_timeout.

    Dropped events are never in the ledger; every handed-over one is, once.
    """
    drops: list[tuple[str, str]] = []
    async with client(emu) as autumn:
        newest = autumn.batcher(
            spool=RedisSpool(redis_server.url, max_backlog=300),
            deliver=False,
            overflow="drop_newest",
            on_drop=lambda e, reason: drops.append((e.idempotency_key, reason)),
        )
        keys = await track_many(newest, 400, together=1)
        await newest.aclose()
        blocking = autumn.batcher(
            spool=RedisSpool(redis_server.url, max_backlog=300),
            deliver=False,
            block_timeout=0.05,
            on_drop=lambda e, reason: drops.append((e.idempotency_key, reason)),
        )
        keys += await track_many(blocking, 3, together=1)
        await blocking.aclose()
    reasons = [reason for _key, reason in drops]
    assert reasons == ["spool_full:max_backlog"] * 100 + ["block_timeout"] * 3
    assert newest.stats.dropped == 100 and newest.stats.spooled == 300
    dropped = {key for key, _reason in drops}
    assert await delivered_by_a_worker(workers, account_of(emu)) == 300
    assert_exactly_once(emu.ledger(), set(keys) - dropped)


async def test_drop_oldest_on_redis_never_evicts_what_was_handed_over(
    redis_server: RedisServer, emu: EmulatorThread, workers: Workers
) -> None:
    """README: drop_oldest behaves like drop_newest on a shared stream, since what is in
    Redis was acknowledged to its producer: the first 300 are delivered, the last 100
    dropped, in the order they came."""
    drops: list[tuple[str, str]] = []
    async with client(emu) as autumn:
        oldest = autumn.batcher(
            spool=RedisSpool(redis_server.url, max_backlog=300),
            deliver=False,
            overflow="drop_oldest",
            on_drop=lambda e, reason: drops.append((e.idempotency_key, reason)),
        )
        keys = await track_many(oldest, 400, together=1)
        await oldest.aclose()
    assert [key for key, _reason in drops] == keys[300:]
    assert {reason for _key, reason in drops} == {"spool_full:max_backlog"}
    assert await delivered_by_a_worker(workers, account_of(emu)) == 300
    assert_exactly_once(emu.ledger(), set(keys[:300]))


async def test_block_waits_the_whole_block_timeout_for_room_in_redis(
    redis_server: RedisServer, emu: EmulatorThread
) -> None:
    """overflow="block" on a full stream waits block_timeout, not less, then drops.

    The waits between tries double; the last one used to be skipped when it would cross
    the timeout, so block_timeout=2 gave up after about 1.3 s. A lower bound only: load
    can make the wait longer, never shorter.
    """
    drops: list[str] = []
    async with client(emu) as autumn:
        blocking = autumn.batcher(
            spool=RedisSpool(redis_server.url, max_backlog=1),
            deliver=False,
            overflow="block",
            block_timeout=0.5,
            on_drop=lambda e, reason: drops.append(reason),
        )
        await blocking.track(customer_id="c1", feature_id="messages")  # the stream is full
        started = time.monotonic()
        await blocking.track(customer_id="c1", feature_id="messages")
        waited = time.monotonic() - started
        await blocking.aclose()
    assert drops == ["block_timeout"]
    assert waited >= 0.5


async def test_refused_event_is_dead_lettered_with_autumns_answer(
    redis_server: RedisServer, emu: EmulatorThread
) -> None:
    """A delivering batcher on Redis: Autumn's refusal goes to the dead letters, once."""
    async with client(emu) as autumn:
        batcher = autumn.batcher(spool=RedisSpool(redis_server.url, lease=1.0))
        good = await track_many(batcher, 20)
        await batcher.track(customer_id="c1", feature_id="no_such_feature", idempotency_key="bad")
        await batcher.aclose()
    assert_exactly_once(emu.ledger(), set(good))
    spool = RedisSpool(redis_server.url)
    await spool.open(account_of(emu))
    [letter] = await spool.dead_letters()
    status = await spool.status()
    await spool.close()
    assert letter.key == "bad" and letter.reason.startswith("rejected:4"), letter.reason
    assert status["pending"] == 0 and status["dead_letters"] == 1


async def test_deliver_false_needs_a_shared_spool(tmp_path: Path) -> None:
    """deliver=False with no spool, or a spool only this process delivers: UsageError."""
    autumn = AsyncAutumn(secret_key="am_sk_test_x", server_url="http://127.0.0.1:9")
    for options in ({}, {"spool_path": tmp_path / "usage.db"}):
        with pytest.raises(UsageError) as caught:
            autumn.batcher(deliver=False, **options)  # type: ignore[arg-type]
        assert caught.value.field == "deliver"
    with pytest.raises(UsageError):
        autumn.batcher(deliver="no")  # type: ignore[arg-type]
    await autumn.aclose()


def test_sync_delivering_batcher_tracked_from_threads(
    redis_server: RedisServer, emu: EmulatorThread
) -> None:
    """autumn_sync: four threads track() into Redis, the same batcher delivers; close()."""
    keys = [uuid.uuid4().hex for _ in range(800)]
    with Autumn(secret_key=emu.secret_key, server_url=emu.url) as autumn:
        batcher = autumn.batcher(spool=RedisSpool(redis_server.url, lease=1.0))

        def produce(part: list[str]) -> None:
            for key in part:
                batcher.track(customer_id="c1", feature_id="messages", idempotency_key=key)

        threads = [threading.Thread(target=produce, args=(keys[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        batcher.close()
        assert batcher.stats.delivered == 800
    assert_exactly_once(emu.ledger(), set(keys))
