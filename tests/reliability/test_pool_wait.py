"""Waiting for a pooled connection is never mistaken for "maybe applied" (issue 12 item 13).

A real pool of one connection, held by a call the server has not answered yet: a second
call that runs out of time while waiting for that connection was never sent, so its
``APITimeoutError`` says ``maybe_applied=False``, the server never hears of it, and the
retry policy may resend it safely.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from autumn_async import APITimeoutError, AsyncAutumn, BackoffStrategy, RetryConfig
from autumn_sync import Autumn

from ._servers import RawRequest, RawServer, respond

KEY = "am_sk_test_poolwait0123456789"
CHECK = b'{"allowed": true, "customer_id": "c"}'


class HeldServer:
    """Answers every request once ``release`` is set; counts what arrived."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def script(self, _: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
        await self.release.wait()
        await respond(writer, 200, CHECK)


async def _wait_for_requests(server: RawServer, count: int) -> None:
    while len(server.requests) < count:
        await asyncio.sleep(0.005)


async def test_a_pool_wait_timeout_was_never_sent() -> None:
    """max_connections=1, the one connection busy: the second call times out unsent."""
    held = HeldServer()
    async with (
        RawServer(held.script) as server,
        AsyncAutumn(
            secret_key=KEY, server_url=server.url, max_connections=1, retry_config=None
        ) as autumn,
    ):
        first = asyncio.ensure_future(autumn.balances.check(customer_id="c", feature_id="f"))
        await _wait_for_requests(server, 1)
        try:
            await autumn.balances.track(customer_id="c", feature_id="f", value=1, timeout=0.2)
        except APITimeoutError as exc:
            error = exc
        else:
            raise AssertionError("the second call did not wait for the pool")
        assert error.maybe_applied is False
        assert "not sent" in str(error)
        assert len(server.requests) == 1
        held.release.set()
        assert (await first).allowed is True
    assert len(server.requests) == 1


async def test_a_call_that_waited_too_long_is_retried_and_sent_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Never sent, so retried: once the connection frees up, it goes out exactly once."""
    caplog.set_level(logging.DEBUG, logger="autumn_balances")
    held = HeldServer()
    retries = RetryConfig("backoff", BackoffStrategy(10, 10, 1.0, 10_000), max_attempts=0)
    async with (
        RawServer(held.script) as server,
        AsyncAutumn(
            secret_key=KEY, server_url=server.url, max_connections=1, retry_config=retries
        ) as autumn,
    ):
        first = asyncio.ensure_future(autumn.balances.check(customer_id="c", feature_id="f"))
        await _wait_for_requests(server, 1)
        second = asyncio.ensure_future(
            autumn.balances.check(customer_id="c", feature_id="f", timeout=0.05)
        )
        while sum("retrying" in r.getMessage() for r in caplog.records) < 3:
            await asyncio.sleep(0.01)  # until three pool-wait timeouts were retried
        assert len(server.requests) == 1
        held.release.set()
        await asyncio.gather(first, second)
    assert len(server.requests) == 2


def test_the_sync_client_reports_pool_waits_as_never_sent() -> None:
    """The same with autumn_sync.Autumn and threads.

    A lone blocking call runs on its thread's own loop; calls made while another is in
    flight share the private loop, whose pool holds ``max_connections``: with the first
    two calls held by the server, the third waits for that pool and is never sent.
    """
    held = HeldServer()

    async def scenario() -> None:
        async with RawServer(held.script) as server:
            with Autumn(
                secret_key=KEY, server_url=server.url, max_connections=1, retry_config=None
            ) as autumn:
                finished: list[str] = []

                def held_call(name: str) -> None:
                    autumn.balances.check(customer_id="c", feature_id="f")
                    finished.append(name)

                threads = [threading.Thread(target=held_call, args=(name,)) for name in ("a", "b")]
                threads[0].start()  # on its own loop
                await _wait_for_requests(server, 1)
                threads[1].start()  # on the shared loop, taking its one connection
                await _wait_for_requests(server, 2)

                def third() -> APITimeoutError:
                    try:
                        autumn.balances.check(customer_id="c", feature_id="f", timeout=0.2)
                    except APITimeoutError as exc:
                        return exc
                    raise AssertionError("no pool wait")

                error = await asyncio.to_thread(third)
                assert error.maybe_applied is False
                held.release.set()
                for thread in threads:
                    await asyncio.to_thread(thread.join)
                assert sorted(finished) == ["a", "b"]
            assert len(server.requests) == 2

    asyncio.run(scenario())
