"""Bugs found by the reliability suite, pinned until fixed (each ``xfail(strict=True)``).

When a fix lands, its test here starts passing, the strict xfail turns that into a
failure, and the marker comes off: the test then guards the fix like any other.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from autumn_async import (
    APIConnectionError,
    AsyncAutumn,
    BackoffStrategy,
    BalancesCreateReset,
    InternalServerError,
    MockTransport,
    Request,
    Response,
    Timeout,
    UsageError,
)
from autumn_async.emulator import Emulator

from ._servers import RawRequest, RawServer

HUGE = 10**400  # a Python int beyond float range: math.isfinite() raises OverflowError on it


def _ok(_: Request) -> Response:
    return Response(status=200, headers={}, body=b'{"success": true}')


async def _create(**kwargs: Any) -> MockTransport:
    transport = MockTransport(_ok)
    async with AsyncAutumn(
        secret_key="am_sk_test_bugs", server_url="http://bugs.test", transport=transport
    ) as autumn:
        await autumn.balances.create(customer_id="c", feature_id="f", **kwargs)
    return transport


@pytest.mark.xfail(
    strict=True,
    raises=OverflowError,
    reason="_requests._number calls math.isfinite() on ints, which raises OverflowError for "
    "ints beyond float range instead of a UsageError (same in models._check_interval_count "
    "and _retry._non_negative)",
)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"included": HUGE},
        {"granted_balance": -HUGE},
        {"expires_at": HUGE},
        {"reset": {"interval": "month", "interval_count": HUGE}},
    ],
    ids=["included", "granted_balance", "expires_at", "reset.interval_count"],
)
async def test_number_beyond_float_range_is_a_usage_error(kwargs: dict[str, Any]) -> None:
    """An int too large for a float is refused as a UsageError, and nothing is sent."""
    with pytest.raises(UsageError):
        await _create(**kwargs)


@pytest.mark.xfail(
    strict=True,
    raises=OverflowError,
    reason="BalancesCreateReset / BackoffStrategy validators call math.isfinite() on ints",
)
@pytest.mark.parametrize(
    "build",
    [
        lambda: BalancesCreateReset(interval="month", interval_count=HUGE),
        lambda: BackoffStrategy(initial_interval=HUGE),
    ],
    ids=["reset", "backoff"],
)
def test_option_beyond_float_range_is_a_usage_error(build: Any) -> None:
    """Option objects refuse an int beyond float range with a UsageError."""
    with pytest.raises(UsageError):
        build()


def _deep_500(_: Request) -> Response:
    return Response(status=500, headers={}, body=b"[" * 100_000)


@pytest.mark.xfail(
    strict=True,
    raises=RecursionError,
    reason="_errors.error_from_response catches ValueError around json.loads but not "
    "RecursionError: an error status whose body is deeply nested JSON escapes as a raw "
    "RecursionError instead of the status's AutumnDefaultError",
)
async def test_error_status_with_deeply_nested_body_is_a_typed_error() -> None:
    """A 5xx whose body nests 100,000 arrays is still an InternalServerError."""
    transport = MockTransport(_deep_500)
    async with AsyncAutumn(
        secret_key="am_sk_test_bugs",
        server_url="http://bugs.test",
        transport=transport,
        retry_config=None,
    ) as autumn:
        with pytest.raises(InternalServerError):
            await autumn.balances.check(customer_id="c", feature_id="f")


@pytest.mark.xfail(
    strict=True,
    raises=OverflowError,
    reason="_config.coerce_timeout / Timeout accept math.inf (and ints beyond float range); "
    "aiohttp then raises OverflowError from ceil() on every request, outside the "
    "transport's exception mapping. Refuse non-finite timeouts with a UsageError.",
)
@pytest.mark.parametrize(
    "timeout", [math.inf, Timeout(total=math.inf), HUGE], ids=["inf", "Timeout(inf)", "huge"]
)
async def test_unbounded_timeout_is_refused_up_front(timeout: Any) -> None:
    """An infinite timeout is a UsageError, not an OverflowError from the HTTP stack."""
    async with Emulator() as emu:
        await emu.add_feature("f")
        await emu.add_customer("c")
        with pytest.raises(UsageError):
            async with AsyncAutumn(
                secret_key=emu.secret_key, server_url=emu.url, retry_config=None
            ) as autumn:
                await autumn.balances.check(customer_id="c", feature_id="f", timeout=timeout)


async def _bad_status_line(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nthis header line has no colon\r\n\r\n")
    await writer.drain()


@pytest.mark.xfail(
    strict=True,
    reason="_transport.translate_exception raises APIConnectionError 'from exc': for a "
    "malformed HTTP answer exc is aiohttp.ClientResponseError, whose request_info holds "
    "the request headers, so repr(err.__cause__) and err.__cause__.request_info.headers "
    "show 'Authorization: Bearer <key>'. Chain a sanitised cause or use 'from None'.",
)
async def test_cause_of_a_malformed_answer_does_not_hold_the_key() -> None:
    """The exception chain of a malformed HTTP answer does not carry the secret key."""
    key = "am_sk_test_LEAKCHECK0123456789"
    async with (
        RawServer(_bad_status_line) as server,
        AsyncAutumn(secret_key=key, server_url=server.url, retry_config=None) as a,
    ):
        with pytest.raises(APIConnectionError) as info:
            await a.balances.check(customer_id="c", feature_id="f")
    chain = []
    cause: BaseException | None = info.value
    while cause is not None:
        chain += [repr(cause), repr(vars(cause)) if hasattr(cause, "__dict__") else ""]
        chain += [repr(getattr(cause, "request_info", None))]
        cause = cause.__cause__ or cause.__context__
    assert not any("LEAKCHECK" in text for text in chain)
