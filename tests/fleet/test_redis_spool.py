"""RedisSpool against a real redis-server: hand-over, claims, settling, leases, backpressure."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
import redis.asyncio

from autumn_async._fleet._redis_spool import RedisSpool, SpoolFullError
from autumn_async._fleet._spool import SpooledEvent

from .conftest import event, every_redis, opened
from .redis_server import RedisServer


async def claim_all(spool: RedisSpool, n: int, *, timeout: float = 20.0) -> list[SpooledEvent]:
    """Claim until ``n`` events are held (a lease may have to run out first)."""
    out: list[SpooledEvent] = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        assert time.monotonic() < deadline, f"claimed {len(out)} of {n}"
        out += await spool.claim(n - len(out), wait=0.2)
    return out


async def test_put_claim_settle_empties_the_stream(spool: RedisSpool) -> None:
    """Events handed over are claimed once each and gone from Redis once settled."""
    events = [event() for _ in range(2500)]
    await spool.put(events)
    assert await spool.backlog() == 2500
    status = await spool.status()
    assert status["entries"] == 3  # one burst, cut at 1,000 events per entry
    claimed = await claim_all(spool, 2500)
    assert sorted(e.key for e in claimed) == sorted(e.key for e in events)
    assert claimed[0].body == events[0].body
    await spool.settle([e.key for e in claimed])
    status = await spool.status()
    assert (status["pending"], status["entries"], status["claimed_entries"]) == (0, 0, 0)
    assert status["counters"]["delivered"] == 2500


async def test_concurrent_puts_share_one_write(spool: RedisSpool) -> None:
    """Async callers arriving together are written in one round trip (group commit)."""
    await asyncio.gather(*(spool.put([event()]) for _ in range(200)))
    status = await spool.status()
    assert status["pending"] == 200
    assert status["entries"] < 200


async def test_put_blocking_from_threads_group_commits(spool: RedisSpool) -> None:
    """Sync callers in many threads each return once durable, sharing XADDs."""
    keys: list[str] = []

    def produce() -> None:
        for _ in range(50):
            e = event()
            spool.put_blocking([e])
            keys.append(e.key)

    threads = [threading.Thread(target=produce) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = await claim_all(spool, 400)
    assert sorted(e.key for e in claimed) == sorted(keys)
    assert (await spool.status())["entries"] <= 400


async def test_put_blocking_survives_a_redis_restart(redis_server: RedisServer) -> None:
    """The sync writer's own connection dies with Redis (its scripts too): the next
    put_blocking reconnects through redis-py, reloads the script and is durable."""
    spool = await opened(redis_server.url)
    first, second = event(), event()
    await asyncio.to_thread(spool.put_blocking, [first])
    redis_server.stop(kill=True)
    redis_server.start()  # same port, AOF replayed, no scripts
    await asyncio.to_thread(spool.put_blocking, [second])
    claimed = await claim_all(spool, 2)
    assert sorted(e.key for e in claimed) == sorted([first.key, second.key])
    await spool.settle([e.key for e in claimed])
    assert await spool.backlog() == 0
    await spool.close()


@every_redis
async def test_release_hands_entries_back_at_once(redis_server: RedisServer) -> None:
    """A released claim is taken by a peer without waiting for the lease to run out."""
    a = await opened(redis_server.url, lease=600.0)
    b = await opened(redis_server.url, lease=600.0)
    await a.put([event() for _ in range(10)])
    held = await a.claim(10)
    assert len(held) == 10
    await a.release([e.key for e in held])
    taken = await b.claim(10)
    assert sorted(e.key for e in taken) == sorted(e.key for e in held)
    await b.settle([e.key for e in taken])
    assert (await b.status())["pending"] == 0
    await a.close()
    await b.close()


@every_redis
async def test_silent_worker_loses_its_claims_after_the_lease(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that stops heartbeating (killed) has its entries reclaimed after the lease."""
    dead = await opened(redis_server.url, lease=1.0)
    peer = await opened(redis_server.url, lease=1.0)
    await dead.put([event() for _ in range(5)])
    assert len(await dead.claim(5)) == 5
    dead.after_fork_in_child()  # forgets its claims and heartbeat, as if killed
    caplog.set_level(logging.INFO, "autumn_balances.fleet")
    taken = await claim_all(peer, 5)
    assert len(taken) == 5
    assert sum("reclaimed" in r.message for r in caplog.records) == 1
    await peer.settle([e.key for e in taken])
    assert (await peer.status())["counters"]["reclaimed"] == 1
    await peer.close()


@every_redis
async def test_entry_deleted_while_pending_is_acked_not_resent(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry XDEL'd while a dead worker held it: the peer's takeover finds its id pending
    with no entry behind it (Redis 6.2 and 7 alike: XAUTOCLAIM would answer a nil on 6.2 and
    a deleted id on 7); it is acked, out of the pending list, and the live entries around it
    are delivered."""
    dead = await opened(redis_server.url, lease=0.5)
    peer = await opened(redis_server.url, lease=0.5)
    events = [event() for _ in range(3)]
    for e in events:
        await dead.put([e])  # one entry each
    assert len(await dead.claim(3)) == 3
    dead.after_fork_in_child()  # killed, its three entries pending
    raw = redis.asyncio.Redis.from_url(redis_server.url)
    ids = [entry_id for entry_id, _fields in await raw.xrange(dead.stream)]
    assert await raw.xdel(dead.stream, ids[1]) == 1
    caplog.set_level(logging.WARNING, "autumn_balances.fleet")
    taken = await claim_all(peer, 2)
    assert sorted(e.key for e in taken) == sorted([events[0].key, events[2].key])
    await peer.settle([e.key for e in taken])
    assert await raw.xpending(dead.stream, dead.group) == {
        "pending": 0, "min": None, "max": None, "consumers": []
    }  # fmt: skip
    assert peer.counters["deleted_while_pending"] == 1
    assert any("deleted while pending" in r.message for r in caplog.records)
    await raw.aclose()
    await peer.close()


@every_redis
async def test_heartbeat_keeps_a_slow_delivery_claimed(redis_server: RedisServer) -> None:
    """A live worker keeps its entries past the lease: a peer takes nothing meanwhile."""
    # A lease with room for a heartbeat delayed by a busy machine (beats every 0.7 s).
    slow = await opened(redis_server.url, lease=2.0)
    peer = await opened(redis_server.url, lease=2.0)
    await slow.put([event() for _ in range(3)])
    held = await slow.claim(3)
    deadline = time.monotonic() + 5.0  # two and a half leases
    while time.monotonic() < deadline:
        assert await peer.claim(3, wait=0.1) == []
    await slow.settle([e.key for e in held])
    await slow.close()
    await peer.close()


async def test_max_backlog_refuses_more(redis_server: RedisServer) -> None:
    """Beyond max_backlog, put raises SpoolFullError('max_backlog') and writes nothing."""
    spool = RedisSpool(redis_server.url, max_backlog=100)
    await spool.open("acct")
    await spool.put([event() for _ in range(100)])
    with pytest.raises(SpoolFullError) as caught:
        await spool.put([event()])
    assert caught.value.reason == "max_backlog"
    with pytest.raises(SpoolFullError):
        await asyncio.to_thread(spool.put_blocking, [event()])
    assert await spool.backlog() == 100
    assert spool.counters["enqueue_failed:max_backlog"] == 2
    await spool.close()


async def test_redis_out_of_memory_is_backpressure(spool: RedisSpool) -> None:
    """Redis's OOM error under noeviction becomes SpoolFullError('redis_oom')."""
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(spool.url)
    await admin.config_set("maxmemory", "1")
    try:
        with pytest.raises(SpoolFullError) as caught:
            await spool.put([event()])
        assert caught.value.reason == "redis_oom"
    finally:
        await admin.config_set("maxmemory", "0")
        await admin.aclose()


async def test_forked_producer_hands_over_from_both_processes(redis_server: RedisServer) -> None:
    """After fork(), parent and child each write on their own connection."""
    import subprocess
    import sys

    from .conftest import ROOT, SCRIPTS

    script = str(SCRIPTS / "fork_producer.py")
    subprocess.run([sys.executable, script, redis_server.url], check=True, timeout=60, cwd=ROOT)
    spool = await opened(redis_server.url)
    held = await claim_all(spool, 3)
    assert sorted(e.key for e in held) == ["child-1", "parent-1", "parent-2"]
    await spool.close()


async def test_close_ends_a_heartbeat_cut_mid_command(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() cancels the heartbeat while it waits on Redis; redis-py may report the cut
    connection as a RedisError instead of the cancellation. The heartbeat caught that as a
    failed renewal and went on beating, and close() awaited it for ever (a fresh-clone run
    hung there, in Autumn.close() after a delivering sync batcher)."""
    spool = await opened(redis_server.url, lease=0.3)
    await spool.put([event()])
    assert len(await spool.claim(1)) == 1  # starts the heartbeat
    renewing = asyncio.Event()

    async def renewal_cut_by_close(*args: object, **kwargs: object) -> list[bytes]:
        renewing.set()
        try:
            await asyncio.Event().wait()  # Redis is slow to answer
        except asyncio.CancelledError:
            raise redis.exceptions.ConnectionError("Connection closed by server.") from None
        return []

    monkeypatch.setattr(spool, "_touch", renewal_cut_by_close)
    await renewing.wait()
    monkeypatch.undo()  # close() hands back through the real _touch
    closing = asyncio.ensure_future(spool.close())
    done, _ = await asyncio.wait([closing], timeout=30)  # a guard against the hang, no timing
    assert closing in done, "close() never returned: the heartbeat outlived it"
    closing.result()
