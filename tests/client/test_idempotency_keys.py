"""Callers' idempotency keys: create/update/check accept one, ambiguous errors carry it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from autumn_async import (
    APIConnectionError,
    AsyncAutumn,
    InternalServerError,
    MockTransport,
    Request,
    Response,
    UsageError,
)

from ..conftest import BASE, INSTANT_RETRIES, SECRET

OK = {"success": True}
CHECK_OK = {"allowed": True, "customer_id": "c", "balance": None}


def answering(*answers: Any, hanging: asyncio.Event | None = None) -> MockTransport:
    """A transport that plays ``answers`` in order: a dict (200 JSON), an exception, a Response.

    ``None`` never answers, after setting ``hanging``.
    """
    queue = list(answers)

    async def handler(request: Request) -> Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Response):
            return answer
        if answer is None:
            assert hanging is not None
            hanging.set()
            await asyncio.Event().wait()  # never answers
        return Response(200, {}, json.dumps(answer).encode())

    return MockTransport(handler)


def lost() -> APIConnectionError:
    return APIConnectionError("reset after sending", maybe_applied=True)


CALLS = {
    "create": ({"customer_id": "c", "feature_id": "f", "included": 1}, OK),
    "update": ({"customer_id": "c", "feature_id": "f", "add_to_balance": 1}, OK),
    "check": ({"customer_id": "c", "feature_id": "f", "send_event": True}, CHECK_OK),
}


@pytest.mark.parametrize("op", list(CALLS))
async def test_caller_key_is_sent_as_the_header_on_every_attempt(op: str) -> None:
    """create, update and check(send_event=True) send the caller's key, the same on retries."""
    kwargs, ok = CALLS[op]
    transport = answering(lost(), ok)
    async with AsyncAutumn(
        secret_key=SECRET, server_url=BASE, retry_config=INSTANT_RETRIES, transport=transport
    ) as autumn:
        await getattr(autumn.balances, op)(**kwargs, idempotency_key="order-42")
    assert [r.headers["Idempotency-Key"] for r in transport.requests] == ["order-42"] * 2


@pytest.mark.parametrize("op", list(CALLS))
@pytest.mark.parametrize("key", ["", " ", "has space", "line\nbreak", "é", "k" * 256, 7])
async def test_bad_keys_are_refused_before_sending(op: str, key: object) -> None:
    """A key a header cannot carry, or too long, is a UsageError naming the field."""
    kwargs, ok = CALLS[op]
    transport = answering(ok)
    async with AsyncAutumn(secret_key=SECRET, server_url=BASE, transport=transport) as autumn:
        with pytest.raises(UsageError) as info:
            await getattr(autumn.balances, op)(**kwargs, idempotency_key=key)
    assert info.value.field == "idempotency_key"
    assert transport.requests == []


async def test_a_key_on_a_plain_check_is_refused() -> None:
    """A plain check changes nothing; a key there is a mistake, refused before sending."""
    transport = answering(CHECK_OK)
    async with AsyncAutumn(secret_key=SECRET, server_url=BASE, transport=transport) as autumn:
        with pytest.raises(UsageError, match="send_event") as info:
            await autumn.balances.check(customer_id="c", feature_id="f", idempotency_key="k")
    assert info.value.field == "idempotency_key"
    assert transport.requests == []


@pytest.mark.parametrize("op", [*CALLS, "track"])
async def test_an_ambiguous_failure_carries_the_key_sdk_generated(op: str) -> None:
    """With no caller key, the error of a maybe-applied call carries the SDK's own key."""
    kwargs = CALLS[op][0] if op != "track" else {"customer_id": "c", "feature_id": "f"}
    transport = answering(lost())
    async with AsyncAutumn(
        secret_key=SECRET, server_url=BASE, retry_config=None, transport=transport
    ) as autumn:
        with pytest.raises(APIConnectionError) as info:
            await getattr(autumn.balances, op)(**kwargs)
    sent = transport.requests[0]
    key = sent.headers.get("Idempotency-Key") or json.loads(sent.body)["idempotency_key"]
    assert info.value.maybe_applied is True
    assert info.value.idempotency_key == key


async def test_a_maybe_applied_attempt_marks_a_later_error_maybe_applied() -> None:
    """A lost answer then a final refusal: the call may have applied, and says so."""
    refusal = Response(400, {}, b'{"message": "no", "code": "invalid_inputs"}')
    transport = answering(lost(), refusal)
    async with AsyncAutumn(
        secret_key=SECRET, server_url=BASE, retry_config=INSTANT_RETRIES, transport=transport
    ) as autumn:
        with pytest.raises(Exception) as info:
            await autumn.balances.update(
                customer_id="c", feature_id="f", add_to_balance=1, idempotency_key="u-1"
            )
    assert (info.value.maybe_applied, info.value.idempotency_key) == (True, "u-1")


async def test_a_read_only_check_error_carries_no_key() -> None:
    """A plain check has no key and is never ambiguous."""
    transport = answering(Response(500, {}, b'{"message": "x", "code": "internal_error"}'))
    async with AsyncAutumn(
        secret_key=SECRET, server_url=BASE, retry_config=None, transport=transport
    ) as autumn:
        with pytest.raises(InternalServerError) as info:
            await autumn.balances.check(customer_id="c", feature_id="f")
    assert (info.value.maybe_applied, info.value.idempotency_key) == (False, None)


async def test_cancelling_mid_retry_leaves_the_key_on_the_cancellation() -> None:
    """A call cancelled after an attempt that may have applied: CancelledError carries the key."""
    hanging = asyncio.Event()
    transport = answering(lost(), None, hanging=hanging)  # then an attempt that never answers
    async with AsyncAutumn(
        secret_key=SECRET, server_url=BASE, retry_config=INSTANT_RETRIES, transport=transport
    ) as autumn:
        task = asyncio.ensure_future(
            autumn.balances.track(customer_id="c", feature_id="f", idempotency_key="t-9")
        )
        await hanging.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await task
    assert info.value.idempotency_key == "t-9"  # type: ignore[attr-defined]
    assert info.value.maybe_applied is True  # type: ignore[attr-defined]
