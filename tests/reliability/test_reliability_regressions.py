"""Bugs the reliability suite found, each kept as a test of its fix.

Out-of-range numbers, hostile error bodies, unbounded timeouts and an exception chain that
held the request headers: every one fails clearly, as a typed error, without the key.
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
from autumn_emulator import Emulator
from autumn_emulator._idempotency import IdempotencyStore

from ._servers import RawRequest, RawServer

HUGE = 10**400  # a Python int beyond float range: math.isfinite() raises OverflowError on it


def _ok(_: Request) -> Response:
    return Response(status=200, headers={}, body=b'{"success": true}')


async def _create(**kwargs: Any) -> MockTransport:
    transport = MockTransport(_ok)
    async with AsyncAutumn(
        secret_key="am_sk_test_bugs", server_url="https://bugs.test", transport=transport
    ) as autumn:
        await autumn.balances.create(customer_id="c", feature_id="f", **kwargs)
    return transport


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


async def test_error_status_with_deeply_nested_body_is_a_typed_error() -> None:
    """A 5xx whose body nests 100,000 arrays is still an InternalServerError."""
    transport = MockTransport(_deep_500)
    async with AsyncAutumn(
        secret_key="am_sk_test_bugs",
        server_url="https://bugs.test",
        transport=transport,
        retry_config=None,
    ) as autumn:
        with pytest.raises(InternalServerError):
            await autumn.balances.check(customer_id="c", feature_id="f")


@pytest.mark.parametrize(
    "timeout",
    [lambda: math.inf, lambda: Timeout(total=math.inf), lambda: HUGE],
    ids=["inf", "Timeout(inf)", "huge"],
)
async def test_unbounded_timeout_is_refused_up_front(timeout: Any) -> None:
    """An infinite timeout is a UsageError (at the latest when the call starts), not an
    OverflowError from the HTTP stack, and nothing is sent."""
    async with Emulator() as emu:
        await emu.add_feature("f")
        await emu.add_customer("c")
        with pytest.raises(UsageError):
            async with AsyncAutumn(
                secret_key=emu.secret_key, server_url=emu.url, retry_config=None
            ) as autumn:
                await autumn.balances.check(customer_id="c", feature_id="f", timeout=timeout())
        assert emu.stats().get("/v1/balances.check", 0) == 0


async def _bad_status_line(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nthis header line has no colon\r\n\r\n")
    await writer.drain()


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


def test_claims_past_the_pruning_threshold_do_not_rebuild_the_store_each_time() -> None:
    """Above 10,000 live keys, a claim costs O(1): the store is not rebuilt on every call."""
    store = IdempotencyStore(lambda: 0)
    for n in range(10_001):
        store.claim("sandbox", f"k{n}")
    scans = 0

    class Spy(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            nonlocal scans
            scans += 1
            return super().items()

    for n in range(50):
        store._expiry = Spy(store._expiry)  # a rebuild would replace it with a plain dict
        store.claim("sandbox", f"more{n}")
    assert scans <= 1, f"the whole store was scanned on {scans} of 50 claims"
