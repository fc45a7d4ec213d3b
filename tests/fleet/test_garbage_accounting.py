"""Entries written straight into the stream with XADD (never
counted by the PUT script) and what settling them does to the fleet's numbers."""

from __future__ import annotations

import gc

import pytest

from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async.fleet.__main__ import main

from .conftest import event
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


async def claim_until_stream_empty(spool: RedisSpool) -> list[str]:
    """Claim (settling what is claimed) until the work stream holds no entry; the keys."""
    keys: list[str] = []
    for _ in range(50):
        got = await spool.claim(10, wait=0.05)
        keys += [e.key for e in got]
        await spool.settle([e.key for e in got])
        if (await spool.status())["entries"] == 0:
            return keys
    raise AssertionError("the stream never emptied")


async def test_garbage_entry_leaves_pending_exact(spool: RedisSpool) -> None:
    await spool._client().xadd(spool.stream, {"hello": "world"})
    good = [event(), event()]
    await spool.put(good)
    assert sorted(await claim_until_stream_empty(spool)) == sorted(e.key for e in good)
    status = await spool.status()
    assert status["dead_letters"] == 1
    assert (status["pending"], status["backlog"]) == (0, 0)


async def test_dead_letter_counters_are_keyed_by_kind(spool: RedisSpool) -> None:
    for n in range(3):
        await spool._client().xadd(spool.stream, {"v": f"attacker-{n}"})
    await claim_until_stream_empty(spool)
    counters = (await spool.status())["counters"]
    dead = {k: v for k, v in counters.items() if k.startswith("dead_lettered")}
    assert dead == {"dead_lettered:malformed": 3}


async def test_unreadable_dead_letter_does_not_block_the_operator(
    spool: RedisSpool,
) -> None:
    raw = spool._client()
    await raw.xadd(spool.dead_stream, {"key": "k1", "t": "not-a-time", "reason": "x"})
    await raw.xadd(spool.dead_stream, {"v": "1", "key": "k2", "t": "1.0", "reason": "poison"})
    assert len(await spool.dead_letters()) == 2


async def test_requeue_skips_letters_that_cannot_be_sent_and_drop_takes_them(
    spool: RedisSpool,
) -> None:
    """`requeue --all` puts back what can be sent and leaves the rest, each with why;
    an unreadable letter is dropped by its id."""
    raw = spool._client()
    bad_time = await raw.xadd(spool.dead_stream, {"key": "k1", "t": "not-a-time", "reason": "x"})
    await raw.xadd(spool.stream, {"v": "attacker"})  # dead-lettered below as malformed
    await claim_until_stream_empty(spool)
    good = event()
    await raw.xadd(
        spool.dead_stream,
        {"v": "1", "key": good.key, "t": repr(good.created_at), "body": good.body,
         "reason": "rejected:404:feature_not_found", "a": spool.account or "", "at": "1.0"},
    )  # fmt: skip
    letters = {d.reason.partition(":")[0]: d for d in await spool.dead_letters()}
    assert letters["x"].problem is not None
    assert letters["malformed"].problem is not None
    assert letters["rejected"].problem is None
    requeued, skipped = await spool.requeue_letters(None)
    assert requeued == 1
    assert sorted(d.reason.partition(":")[0] for d in skipped) == ["malformed", "x"]
    assert [e.key for e in await spool.claim(10, wait=0.05)] == [good.key]
    assert await spool.drop_dead_letters([bad_time.decode()]) == 1
    assert [d.reason.partition(":")[0] for d in await spool.dead_letters()] == ["malformed"]


def test_cli_refuses_unknown_and_malformed_dead_letter_ids(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An id that is no dead letter exits 1 with a message; one that is no stream id, 2."""
    url = redis_server.url
    assert main(["dead-letters", "drop", "--redis", url, "1-1"]) == 1
    assert "not dead letters" in capsys.readouterr().err
    assert main(["dead-letters", "requeue", "--redis", url, "not-an-id"]) == 2
    assert "not-an-id" in capsys.readouterr().err
    gc.collect()  # and no socket left open (ResourceWarning is an error here)
