"""Against a real aiohttp server on 127.0.0.1: the exact request, retries, failure mapping."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from autumn_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncAutumn,
    RateLimitError,
    RetryConfig,
    __version__,
)
from autumn_async._retry import BackoffStrategy

from ..conftest import INSTANT_RETRIES, SECRET, example

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Recorder:
    """A loopback server whose answers are scripted per test and whose requests are kept."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[Handler] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": json.loads(raw) if raw else None,
            }
        )
        handler = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return await handler(request)


@pytest.fixture
async def server() -> AsyncIterator[Recorder]:
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(_: web.Request) -> web.StreamResponse:
        if isinstance(body, str):
            return web.Response(status=status, text=body, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    return handler


def drop_connection() -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    return handler


@pytest.mark.parametrize(
    ("op", "kwargs", "path", "wire", "reply"),
    [
        (
            "create",
            {
                "feature_id": "messages",
                "customer_id": "cus_1",
                "included": 100,
                "reset": "month",
                "entity_id": "ent_1",
            },
            "/v1/balances.create",
            {
                "feature_id": "messages",
                "customer_id": "cus_1",
                "included_grant": 100,
                "reset": {"interval": "month"},
                "entity_id": "ent_1",
            },
            "balances_create_response.json",
        ),
        (
            "update",
            {
                "customer_id": "cus_1",
                "feature_id": "messages",
                "current_balance": 5,
                "interval": "month",
            },
            "/v1/balances.update",
            {
                "customer_id": "cus_1",
                "feature_id": "messages",
                "remaining": 5,
                "interval": "month",
            },
            "balances_update_response.json",
        ),
        (
            "check",
            {
                "customer_id": "cus_1",
                "feature_id": "messages",
                "required_balance": 2,
                "with_preview": True,
            },
            "/v1/balances.check",
            {
                "customer_id": "cus_1",
                "feature_id": "messages",
                "required_balance": 2,
                "with_preview": True,
            },
            "balances_check_response_metered_allowed.json",
        ),
        (
            "track",
            {
                "customer_id": "cus_1",
                "event_name": "msg_sent",
                "value": 3,
                "properties": {"a": 1},
                "idempotency_key": "k1",
            },
            "/v1/balances.track",
            {
                "customer_id": "cus_1",
                "event_name": "msg_sent",
                "value": 3,
                "properties": {"a": 1},
                "idempotency_key": "k1",
            },
            "balances_track_response_feature.json",
        ),
    ],
)
async def test_exact_request_on_the_wire(
    server: Recorder,
    op: str,
    kwargs: dict[str, Any],
    path: str,
    wire: dict[str, Any],
    reply: str,
) -> None:
    """Each operation POSTs its path with the documented headers and exactly the set fields."""
    server.script = [answer(example(reply))]
    async with AsyncAutumn(secret_key=SECRET, server_url=server.url) as autumn:
        await getattr(autumn.balances, op)(**kwargs)
    [req] = server.requests
    assert req["method"] == "POST"
    assert req["path"] == path
    assert req["body"] == wire
    headers = req["headers"]
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert headers["x-api-version"] == "2.1"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == f"autumn-balances-python/{__version__}"


async def test_retry_after_is_honoured_end_to_end(server: Recorder) -> None:
    """A 429 with Retry-After: 0 is retried over the real connection and then succeeds."""
    server.script = [
        answer("Too many requests, please try again later.", 429, {"Retry-After": "0"}),
        answer({"message": "busy", "code": "internal_error"}, 503, {"Retry-After": "0"}),
        answer(example("balances_check_response_metered_allowed.json")),
    ]
    async with AsyncAutumn(
        secret_key=SECRET, server_url=server.url, retry_config=INSTANT_RETRIES
    ) as autumn:
        res = await autumn.balances.check(customer_id="c", feature_id="messages")
    assert res.allowed
    assert len(server.requests) == 3


async def test_retry_after_past_the_deadline_gives_up_at_once(server: Recorder) -> None:
    """Retry-After longer than the time left raises the RateLimitError without sleeping."""
    server.script = [
        answer("Too many requests, please try again later.", 429, {"Retry-After": "3600"})
    ]
    config = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 5_000))
    async with AsyncAutumn(secret_key=SECRET, server_url=server.url, retry_config=config) as autumn:
        with pytest.raises(RateLimitError) as info:
            await autumn.balances.track(customer_id="c", feature_id="messages")
    assert info.value.retry_after == 3600
    assert len(server.requests) == 1


async def test_dropped_connection_maybe_applied_then_retried(server: Recorder) -> None:
    """A connection closed after the request was read is 'maybe applied', and track retries it."""
    server.script = [drop_connection(), answer(example("balances_track_response_feature.json"))]
    async with AsyncAutumn(
        secret_key=SECRET, server_url=server.url, retry_config=INSTANT_RETRIES
    ) as autumn:
        await autumn.balances.track(customer_id="c", feature_id="messages")
    keys = {r["body"]["idempotency_key"] for r in server.requests}
    assert len(server.requests) == 2
    assert len(keys) == 1


async def test_dropped_connection_maps_to_maybe_applied(server: Recorder) -> None:
    """Without retries, a server disconnect surfaces as APIConnectionError(maybe_applied=True)."""
    server.script = [drop_connection()]
    async with AsyncAutumn(secret_key=SECRET, server_url=server.url, retry_config=None) as autumn:
        with pytest.raises(APIConnectionError) as info:
            await autumn.balances.track(customer_id="c", feature_id="messages")
    assert info.value.maybe_applied is True


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


async def test_refused_connection_was_never_sent() -> None:
    """A refused connection is APIConnectionError(maybe_applied=False)."""
    url = f"http://127.0.0.1:{_closed_port()}"
    async with AsyncAutumn(secret_key=SECRET, server_url=url, retry_config=None) as autumn:
        with pytest.raises(APIConnectionError) as info:
            await autumn.balances.check(customer_id="c", feature_id="f")
    assert info.value.maybe_applied is False
    assert SECRET not in str(info.value)


async def test_read_timeout_maybe_applied(server: Recorder) -> None:
    """An answer slower than the timeout is APITimeoutError(maybe_applied=True)."""
    release = asyncio.Event()

    async def stall(_: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response()

    server.script = [stall]
    async with AsyncAutumn(
        secret_key=SECRET, server_url=server.url, retry_config=None, timeout=0.2
    ) as autumn:
        with pytest.raises(APITimeoutError) as info:
            await autumn.balances.check(customer_id="c", feature_id="f")
    release.set()
    assert info.value.maybe_applied is True


async def test_per_call_timeout_overrides_the_client(server: Recorder) -> None:
    """timeout= on a call replaces the client's for that call only."""
    release = asyncio.Event()

    async def stall(_: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response(example("balances_check_response_metered_allowed.json"))

    server.script = [stall]
    async with AsyncAutumn(secret_key=SECRET, server_url=server.url, retry_config=None) as autumn:
        with pytest.raises(APITimeoutError):
            await autumn.balances.check(customer_id="c", feature_id="f", timeout=0.1)
    release.set()


async def test_oversized_body_is_refused(server: Recorder) -> None:
    """A body larger than the SDK's cap is an error, not a memory blow-up."""
    from autumn_async import ResponseValidationError
    from autumn_async._config import MAX_RESPONSE_BYTES

    big = b"x" * (MAX_RESPONSE_BYTES + 1)

    async def huge(_: web.Request) -> web.StreamResponse:
        return web.Response(body=big, content_type="application/json")

    server.script = [huge]
    async with AsyncAutumn(secret_key=SECRET, server_url=server.url, retry_config=None) as autumn:
        with pytest.raises(ResponseValidationError, match="larger than"):
            await autumn.balances.check(customer_id="c", feature_id="f")
