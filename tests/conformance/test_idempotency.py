"""Idempotency keys as the server claims and releases them (issue 13 items 1 and 2).

The emulator side follows ``server/src/internal/misc/idempotency/withIdempotencyKey.ts``
(claim before the work, 409 ``duplicate_idempotency_key`` while claimed, release on an
error >= 400 other than 409 or an error without a status), the header middleware
``server/src/honoMiddlewares/idempotencyMiddleware.ts`` and the body key of
``server/src/internal/balances/idempotency/trackBodyIdempotencyKey.ts``.

The SDK side states the retry policy of the project brief: never resend a state-changing
call after an application 5xx (Autumn released its key and may have applied the change),
and confirm a 409 before calling a call delivered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from autumn_async import (
    AsyncAutumn,
    BackoffStrategy,
    InternalServerError,
    RetryConfig,
    Timeout,
)
from autumn_emulator import Emulator

from ..conftest import INSTANT_RETRIES, SECRET

TRACK = "/v1/balances.track"
UPDATE = "/v1/balances.update"
CREATE = "/v1/balances.create"


#: Waits long enough for a 409 to be confirmed (one per-attempt timeout after the first
#: attempt started) without stretching the run: 0.1-0.2 s between attempts, 10 s in all.
PATIENT = RetryConfig("backoff", BackoffStrategy(100, 200, 2.0, 10_000), True, max_attempts=0)


@pytest.fixture
async def http(emu: Emulator) -> AsyncIterator[Any]:
    """POST raw JSON to the emulator: ``await http(path, body, headers)`` -> (status, json)."""
    async with aiohttp.ClientSession() as session:

        async def post(
            path: str, body: Any, headers: dict[str, str] | None = None
        ) -> tuple[int, Any]:
            sent = {"Authorization": f"Bearer {SECRET}", "x-api-version": "2.1", **(headers or {})}
            async with session.post(emu.url + path, data=json.dumps(body), headers=sent) as r:
                return r.status, await r.json(content_type=None)

        yield post


@pytest.fixture
async def seeded(emu: Emulator) -> Emulator:
    """``emu`` with 100 messages granted to c1."""
    await emu.add_balance(customer_id="c1", feature_id="messages", included_grant=100)
    return emu


def track_body(key: str, customer_id: str = "c1", value: int = 1) -> dict[str, Any]:
    """A track body carrying the body key ``key``."""
    return {
        "customer_id": customer_id,
        "feature_id": "messages",
        "value": value,
        "idempotency_key": key,
    }


# -- the emulator: claim, 409, release ---------------------------------------------------


async def test_duplicate_while_the_first_is_in_flight_is_409(seeded: Emulator, http: Any) -> None:
    """A duplicate arriving while the first request still runs is refused with 409."""
    seeded.set_fault(TRACK, "in_flight", latency_ms=300, count=1)
    first = asyncio.create_task(http(TRACK, track_body("k1")))
    while seeded.stats().get(TRACK, 0) < 1:  # the first request has arrived
        await asyncio.sleep(0)
    status, body = await http(TRACK, track_body("k1"))
    assert (status, body["code"]) == (409, "duplicate_idempotency_key")
    assert body["message"] == (
        "Another request with idempotency key track:k1 has already been received"
    )
    assert (await first)[0] == 200
    assert len(seeded.ledger()) == 1


async def test_a_failed_request_releases_its_key(seeded: Emulator, http: Any) -> None:
    """A 404 releases the key: the same key then goes through once the customer exists."""
    status, body = await http(TRACK, track_body("k2", customer_id="newcomer"))
    assert (status, body["code"]) == (404, "customer_not_found")
    await seeded.add_customer("newcomer")
    await seeded.add_balance(customer_id="newcomer", feature_id="messages", included_grant=5)
    status, _ = await http(TRACK, track_body("k2", customer_id="newcomer"))
    assert status == 200
    assert len(seeded.ledger()) == 1


async def test_a_success_keeps_its_key_and_a_duplicate_does_not_release_it(
    seeded: Emulator, http: Any
) -> None:
    """After a success every repeat is 409, however many times it is asked."""
    assert (await http(TRACK, track_body("k3")))[0] == 200
    for _ in range(2):
        status, body = await http(TRACK, track_body("k3"))
        assert (status, body["code"]) == (409, "duplicate_idempotency_key")
    assert len(seeded.ledger()) == 1


async def test_error_after_applies_then_answers_500_with_the_key_released(
    seeded: Emulator, http: Any
) -> None:
    """error_after: the usage is applied, 500 is answered, and a resend applies it again.

    This is the server hazard the SDK's policy guards against (spec §17.2).
    """
    seeded.set_fault(TRACK, "error_after", count=1)
    status, body = await http(TRACK, track_body("k4"))
    assert (status, body["code"]) == (500, "internal_error")
    assert len(seeded.ledger()) == 1
    assert (await http(TRACK, track_body("k4")))[0] == 200  # the key was released
    assert len(seeded.ledger()) == 2


async def test_error_after_that_never_applied_releases_the_key(seeded: Emulator, http: Any) -> None:
    """error_after with applied=false fails in flight: nothing applied, key free again."""
    seeded.set_fault(TRACK, "error_after", applied=False, count=1)
    assert (await http(TRACK, track_body("k5")))[0] == 500
    assert seeded.ledger() == []
    assert (await http(TRACK, track_body("k5")))[0] == 200


async def test_header_key_is_released_on_an_error_and_kept_on_success(
    seeded: Emulator, http: Any
) -> None:
    """The Idempotency-Key header: 400 releases it, a success keeps it (409 on a repeat)."""
    headers = {"Idempotency-Key": "h1"}
    bad = {"customer_id": "c1", "feature_id": "messages", "add_to_balance": "ten"}
    assert (await http(UPDATE, bad, headers))[0] == 400
    good = {"customer_id": "c1", "feature_id": "messages", "add_to_balance": 10}
    assert (await http(UPDATE, good, headers))[0] == 200
    status, body = await http(UPDATE, good, headers)
    assert (status, body["code"]) == (409, "duplicate_idempotency_key")
    assert seeded.balances("c1")["messages"]["remaining"] == 110


async def test_header_duplicate_while_in_flight_is_409(seeded: Emulator, http: Any) -> None:
    """A header-key duplicate of a create still running is refused; one grant is made."""
    await seeded.add_feature("tokens")
    seeded.set_fault(CREATE, "in_flight", latency_ms=300, count=1)
    body = {"customer_id": "c1", "feature_id": "tokens", "included_grant": 10}
    headers = {"Idempotency-Key": "h2"}
    first = asyncio.create_task(http(CREATE, body, headers))
    while seeded.stats().get(CREATE, 0) < 1:
        await asyncio.sleep(0)
    status, reply = await http(CREATE, body, headers)
    assert (status, reply["code"]) == (409, "duplicate_idempotency_key")
    assert (await first)[0] == 200
    assert len(seeded.balances("c1")["tokens"]["breakdown"]) == 1


async def test_error_after_on_create_grants_and_releases_the_header_key(
    seeded: Emulator, http: Any
) -> None:
    """error_after on create: the grant exists, 500 is answered, the header key is free."""
    await seeded.add_feature("tokens")
    seeded.set_fault(CREATE, "error_after", status=503, count=1)
    body = {"customer_id": "c1", "feature_id": "tokens", "included_grant": 10}
    status, reply = await http(CREATE, body, {"Idempotency-Key": "h3"})
    assert (status, reply["code"]) == (503, "internal_error")
    assert seeded.balances("c1")["tokens"]["granted"] == 10
    assert (await http(CREATE, body, {"Idempotency-Key": "h3"}))[0] == 200


# -- the SDK against it: never twice, never silently lost --------------------------------


async def test_track_after_an_application_500_is_not_resent(seeded: Emulator) -> None:
    """A track answered 500 after applying is not resent: outcome unknown, key attached."""
    seeded.set_fault(TRACK, "error_after", count=1)
    async with AsyncAutumn(
        secret_key=SECRET, server_url=seeded.url, retry_config=INSTANT_RETRIES
    ) as autumn:
        with pytest.raises(InternalServerError) as info:
            await autumn.balances.track(
                customer_id="c1", feature_id="messages", idempotency_key="sdk-1"
            )
    assert getattr(info.value, "maybe_applied", None) is True
    assert getattr(info.value, "idempotency_key", None) == "sdk-1"
    assert seeded.stats()[TRACK] == 1
    assert len(seeded.ledger()) == 1


@pytest.mark.parametrize("route", [CREATE, UPDATE])
async def test_create_and_update_after_an_application_500_are_not_resent(
    seeded: Emulator, route: str
) -> None:
    """create/update answered 500 after applying are not resent; the error carries the key."""
    await seeded.add_feature("tokens")
    await seeded.add_balance(customer_id="c1", feature_id="tokens", included_grant=1)
    seeded.set_fault(route, "error_after", count=1)
    async with AsyncAutumn(
        secret_key=SECRET, server_url=seeded.url, retry_config=INSTANT_RETRIES
    ) as autumn:
        call = (
            autumn.balances.create(customer_id="c1", feature_id="tokens", included=5)
            if route == CREATE
            else autumn.balances.update(customer_id="c1", feature_id="tokens", add_to_balance=5)
        )
        with pytest.raises(InternalServerError) as info:
            await call
    assert getattr(info.value, "maybe_applied", None) is True
    assert isinstance(getattr(info.value, "idempotency_key", None), str)
    assert seeded.stats()[route] == 1


async def test_a_gateway_502_is_retried_under_the_same_key(seeded: Emulator) -> None:
    """A 502 without Autumn's JSON body (a proxy) is retried and applied once."""
    seeded.set_fault(TRACK, "status", status=502, gateway=True, count=1)
    async with AsyncAutumn(
        secret_key=SECRET, server_url=seeded.url, retry_config=INSTANT_RETRIES
    ) as autumn:
        result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=2)
    assert (result.replayed, seeded.stats()[TRACK]) == (False, 2)
    assert [event["value"] for event in seeded.ledger()] == [2]


async def test_a_409_while_the_first_attempt_runs_is_confirmed_before_delivered(
    seeded: Emulator,
) -> None:
    """A reset while the server still works: the 409 is asked again until it can be trusted.

    The first attempt's connection is reset at once while the server keeps the key and
    finishes 0.15 s later; the SDK's next attempts meet 409. It reports the call
    delivered only once a 409 arrives a full per-attempt timeout after the first attempt
    started, so it asks at least twice.
    """
    seeded.set_fault(TRACK, "in_flight", latency_ms=150, drop=True, count=1)
    async with AsyncAutumn(
        secret_key=SECRET, server_url=seeded.url, retry_config=PATIENT, timeout=Timeout(total=1)
    ) as autumn:
        result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=3)
    assert result.replayed is True
    assert len(seeded.ledger()) == 1
    assert seeded.stats()[TRACK] >= 3


async def test_a_409_from_an_attempt_that_then_fails_is_not_taken_as_delivered(
    seeded: Emulator,
) -> None:
    """The first attempt holds the key, then fails without applying: the call still lands.

    A retry meets 409 while the first attempt runs; that attempt then fails and releases
    its key. Taking the 409 as "delivered" would lose the usage; the SDK asks again and
    the usage is applied exactly once.
    """
    seeded.set_fault(TRACK, "in_flight", latency_ms=150, drop=True, count=1)
    seeded.set_fault(TRACK, "error_after", applied=False, count=1)
    async with AsyncAutumn(
        secret_key=SECRET, server_url=seeded.url, retry_config=PATIENT, timeout=Timeout(total=1)
    ) as autumn:
        result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=4)
    assert result.replayed is False
    assert result.balance is not None
    assert [event["value"] for event in seeded.ledger()] == [4]
