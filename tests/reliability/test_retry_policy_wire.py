"""The one retry policy on the wire: storms, application 5xx and early 409s.

Against a scripted loopback server (in front of the emulator where a request must really
be applied). The server behaviour being followed is Autumn's idempotency handling:
``server/src/internal/misc/idempotency/withIdempotencyKey.ts`` (useautumn/autumn) claims
the key before the handler runs, answers 409 to a duplicate even while the first request
still runs, and releases the key when the handler ends in an error >= 400 other than 409.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from autumn_async import (
    AsyncAutumn,
    BackoffStrategy,
    InternalServerError,
    RateLimitError,
    RetryConfig,
)
from autumn_emulator import Emulator

from ..conftest import INSTANT_RETRIES
from ._servers import RawRequest, RawServer, relay, respond
from .conftest import CUSTOMER

DUPLICATE = json.dumps(
    {
        "message": "Another request with idempotency key k has already been received",
        "code": "duplicate_idempotency_key",
        "env": "sandbox",
    }
).encode()
RATE_LIMITED = b"Too many requests, please try again later."


async def test_retry_after_zero_cannot_make_a_storm() -> None:
    """Constant 429 with Retry-After: 0 and max_attempts=0: bounded, backoff-spaced requests.

    Before, Retry-After: 0 was obeyed literally and such a call sent thousands of requests
    a second; now every wait is at least the (growing) backoff delay, so within the
    1-second budget only a handful go out, all under the same key.
    """

    async def always_429(request: RawRequest, writer: asyncio.StreamWriter, index: int) -> None:
        await respond(
            writer, 429, RATE_LIMITED, content_type="text/plain", headers={"Retry-After": "0"}
        )

    storm_config = RetryConfig("backoff", BackoffStrategy(20, 200, 2.0, 1_000), max_attempts=0)
    async with (
        RawServer(always_429) as server,
        AsyncAutumn(
            secret_key="am_sk_test_x", server_url=server.url, retry_config=storm_config
        ) as autumn,
    ):
        with pytest.raises(RateLimitError) as info:
            await autumn.balances.track(customer_id="c", feature_id="f")
    assert info.value.retry_after == 0
    # Full-jitter waits capped at 20, 40, 80, 160, 200, 200 ... ms fill 1 s in about a dozen.
    assert 3 <= len(server.requests) <= 60
    keys = {json.loads(r.body)["idempotency_key"] for r in server.requests}
    assert len(keys) == 1


async def test_500_after_applying_is_not_resent(emu: Emulator) -> None:
    """A 500 after the change was applied is raised with maybe_applied and the key, not resent.

    Autumn released the key with that 500, so a resend under it would be applied again.
    """

    async def applied_then_500(
        request: RawRequest, writer: asyncio.StreamWriter, index: int
    ) -> None:
        await server.forward(request)  # applied by the emulator
        body = {"message": "Internal server error", "code": "internal_error", "env": "sandbox"}
        await respond(writer, 500, json.dumps(body).encode())

    async with (
        RawServer(applied_then_500, upstream=emu.url) as server,
        AsyncAutumn(
            secret_key=emu.secret_key, server_url=server.url, retry_config=INSTANT_RETRIES
        ) as autumn,
    ):
        with pytest.raises(InternalServerError) as info:
            await autumn.balances.track(
                customer_id=CUSTOMER, feature_id="messages", value=3, idempotency_key="evt-1"
            )
    assert (info.value.maybe_applied, info.value.idempotency_key) == (True, "evt-1")
    assert len(server.requests) == 1
    assert len(emu.ledger()) == 1  # applied once, and only once


async def test_gateway_502_is_retried_under_the_same_key(emu: Emulator) -> None:
    """A gateway's 502 (no Autumn JSON) is retried under the same key and applied once."""

    async def gateway_then_relay(
        request: RawRequest, writer: asyncio.StreamWriter, index: int
    ) -> None:
        if index == 0:
            await respond(writer, 502, b"<html>502 Bad Gateway</html>", content_type="text/html")
        else:
            await relay(server, request, writer)

    async with (
        RawServer(gateway_then_relay, upstream=emu.url) as server,
        AsyncAutumn(
            secret_key=emu.secret_key, server_url=server.url, retry_config=INSTANT_RETRIES
        ) as autumn,
    ):
        result = await autumn.balances.create(
            customer_id=CUSTOMER, feature_id="seats", included=5, idempotency_key="grant-1"
        )
    assert result.success and not result.replayed
    assert [r.headers["idempotency-key"] for r in server.requests] == ["grant-1", "grant-1"]


async def test_early_409_is_asked_again_and_an_unapplied_call_applies_once(
    emu: Emulator,
) -> None:
    """A 409 right after a lost attempt may mean "still running": ask again, never assume.

    Here the first attempt was lost before applying and the duplicate belonged to an
    attempt that then failed (releasing the key): calling that 409 "replayed" would have
    lost the usage. The policy waits one attempt timeout, asks again, and it is applied.
    """

    async def lost_then_409_then_relay(
        request: RawRequest, writer: asyncio.StreamWriter, index: int
    ) -> None:
        if index == 0:
            return  # connection closed with no answer: maybe applied (it was not)
        if index == 1:
            await respond(writer, 409, DUPLICATE)
            return
        await relay(server, request, writer)

    async with (
        RawServer(lost_then_409_then_relay, upstream=emu.url) as server,
        AsyncAutumn(
            secret_key=emu.secret_key,
            server_url=server.url,
            retry_config=INSTANT_RETRIES,
            timeout=0.3,
        ) as autumn,
    ):
        result = await autumn.balances.track(customer_id=CUSTOMER, feature_id="messages", value=3)
    assert result.replayed is False
    assert result.balance is not None
    assert len(server.requests) == 3
    assert len(emu.ledger()) == 1
