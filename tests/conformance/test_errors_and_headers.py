"""Errors and headers the server sends that the SDK must surface (issue 13 item 7).

Follows ``server/src/honoMiddlewares/requestBlockMiddleware.ts`` (403
``request_temporarily_disabled``), ``server/src/honoMiddlewares/secretKeyMiddleware.ts``
(401 ``invalid_request`` for an unknown token prefix) and hono-rate-limiter's draft-6
headers as configured in ``server/src/internal/misc/rateLimiter/rateLimitConfigs.ts``.
"""

from __future__ import annotations

import pickle

import aiohttp
import pytest

from autumn_async import (
    AsyncAutumn,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from autumn_emulator import Emulator

from ..conftest import SECRET

TRACK = "/v1/balances.track"
CHECK = "/v1/balances.check"


def client(emu: Emulator, key: str = SECRET) -> AsyncAutumn:
    """An SDK client for ``emu`` with retries off."""
    return AsyncAutumn(secret_key=key, server_url=emu.url, retry_config=None)


async def test_temporarily_disabled_is_a_permission_denied_error(emu: Emulator) -> None:
    """A blocked organisation's 403 request_temporarily_disabled is PermissionDeniedError."""
    emu.set_fault(TRACK, "status", status=403)
    async with client(emu) as autumn:
        with pytest.raises(PermissionDeniedError) as info:
            await autumn.balances.track(customer_id="c1", feature_id="messages")
    assert (info.value.status_code, info.value.code, info.value.env) == (
        403,
        "request_temporarily_disabled",
        "sandbox",
    )
    assert info.value.message == "API access is temporarily disabled for this organization"
    assert emu.stats()[TRACK] == 1
    assert emu.ledger() == []


@pytest.mark.parametrize("key", ["sk_live_123", "Bearer", "am_xx_123"])
async def test_unknown_token_prefix_is_401_invalid_request(emu: Emulator, key: str) -> None:
    """A token without a known prefix is 401 invalid_request, not invalid_secret_key."""
    async with client(emu, key) as autumn:
        with pytest.raises(AuthenticationError) as info:
            await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (info.value.status_code, info.value.code) == (401, "invalid_request")
    assert key not in info.value.body


async def test_rate_limit_error_exposes_retry_after_and_the_ratelimit_headers(
    emu: Emulator,
) -> None:
    """A 429 exposes Retry-After and RateLimit-Limit/-Remaining/-Reset/-Policy, and pickles."""
    emu.set_fault(CHECK, "status", status=429, retry_after=2)
    async with client(emu) as autumn:
        with pytest.raises(RateLimitError) as info:
            await autumn.balances.check(customer_id="c1", feature_id="messages")
    error = info.value
    assert (error.retry_after, error.limit, error.remaining, error.reset, error.policy) == (
        2.0,
        10_000,
        0,
        2.0,
        "10000;w=1",
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.limit, copy.remaining, copy.policy) == (10_000, 0, "10000;w=1")


def test_rate_limit_error_without_the_headers_reports_none() -> None:
    """Missing or unreadable RateLimit headers give None, never an exception."""
    error = RateLimitError(
        "Too many requests", status_code=429, headers={"RateLimit-Limit": "lots"}
    )
    assert (error.limit, error.remaining, error.reset, error.policy) == (None, None, None, None)


async def test_an_error_past_authentication_carries_the_bucket_too(emu: Emulator) -> None:
    """A 404 has passed the rate limiter: its error carries the RateLimit-* headers."""
    async with client(emu) as autumn:
        with pytest.raises(NotFoundError) as info:
            await autumn.balances.check(customer_id="ghost", feature_id="messages")
    assert info.value.headers["RateLimit-Policy"] == "10000;w=1"


async def test_every_answer_carries_the_route_bucket(emu: Emulator) -> None:
    """Successful answers carry the route's RateLimit-* headers (create: 25 per second)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            emu.url + "/v1/balances.create",
            json={"customer_id": "c1", "feature_id": "messages", "included_grant": 1},
            headers={"Authorization": f"Bearer {SECRET}", "x-api-version": "2.1"},
        ) as reply,
    ):
        assert reply.status == 200
        assert reply.headers["RateLimit-Policy"] == "25;w=1"
        assert reply.headers["RateLimit-Limit"] == "25"
