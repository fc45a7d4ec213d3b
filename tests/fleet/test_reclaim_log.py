"""Review: README "The protocol": a silent worker's entries are taken over "after the lease
(one INFO line per takeover)". A worker's SIGTERM hand-back of 8,000 entries (README:
"hands unfinished entries back at once") made its successor log 125 lines "reclaimed 64
entries idle for over 30s from a silent worker" (one per 64-entry script call) about
entries idle for a few seconds, handed back by a worker that was not silent.
"""

from __future__ import annotations

import logging

import pytest

from autumn_async._fleet._redis_spool import RedisSpool
from autumn_async._fleet._spool import SpooledEvent

from .conftest import event
from .redis_server import RedisServer

pytestmark = pytest.mark.slow

ENTRIES = 200  # one put per entry: more than one 64-entry reclaim call


async def test_one_takeover_logs_one_line(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    producer = RedisSpool(redis_server.url)
    await producer.open("acct")
    for _ in range(ENTRIES):
        await producer.put([event()])
    stopping = RedisSpool(redis_server.url, lease=30.0)
    successor = RedisSpool(redis_server.url, lease=30.0)
    try:
        await stopping.open("acct")
        got: list[SpooledEvent] = []
        while len(got) < ENTRIES:
            got += await stopping.claim(10_000, wait=0.5)
        await stopping.release([e.key for e in got])  # the SIGTERM hand-back
        await stopping.close()

        caplog.set_level(logging.INFO, logger="autumn_balances")
        await successor.open("acct")
        taken: list[str] = []
        while len(taken) < ENTRIES:
            taken += [e.key for e in await successor.claim(10_000, wait=0.5)]
        assert sorted(taken) == sorted(e.key for e in got)
        lines = [r.getMessage() for r in caplog.records if "reclaimed" in r.getMessage()]
        assert len(lines) <= 1, lines[:3]
        assert not any("silent worker" in line for line in lines), lines[:1]
        counters = (await successor.status())["counters"]
        assert (counters.get("reclaimed", 0), counters["handed_back_taken"]) == (0, ENTRIES)
    finally:
        await successor.close()
        await producer.close()
