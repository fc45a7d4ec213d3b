"""API versions 2.1 to 2.5 and the server's own 202 answers (issue 13 items 6 and 9).

Versions follow ``shared/api/versionUtils/convertVersionUtils.ts`` (``parseVersion``) and
``ApiVersion.ts``; 2.5's asynchronous track follows
``shared/api/balances/track/versionChanges/V2_4_TrackParamsChange.ts`` and
``server/src/internal/balances/handlers/handleTrack.ts``; the 202 bodies follow
``server/src/internal/balances/track/utils/getQueuedTrackResponse.ts`` and
``server/src/internal/api/check/checkUtils/buildCheckFallbackResponse.ts``.
"""

from __future__ import annotations

import pytest

from autumn_async import AsyncAutumn, BadRequestError
from autumn_emulator import Emulator

from ..conftest import INSTANT_RETRIES, SECRET

TRACK = "/v1/balances.track"
CHECK = "/v1/balances.check"

VERSIONS = ["2.1", "2.2", "2.3", "2.4", "2.5"]


def client(emu: Emulator, version: str = "2.1") -> AsyncAutumn:
    """An SDK client for ``emu`` at ``version``."""
    return AsyncAutumn(
        secret_key=SECRET, server_url=emu.url, x_api_version=version, retry_config=INSTANT_RETRIES
    )


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_operation_works_at_each_supported_version(emu: Emulator, version: str) -> None:
    """create, update, check and track succeed at x_api_version 2.1 through 2.5."""
    async with client(emu, version) as autumn:
        created = await autumn.balances.create(
            customer_id="c1", feature_id="messages", included=100, reset="month"
        )
        updated = await autumn.balances.update(
            customer_id="c1", feature_id="messages", add_to_balance=10
        )
        checked = await autumn.balances.check(
            customer_id="c1", feature_id="messages", required_balance=5
        )
        tracked = await autumn.balances.track(customer_id="c1", feature_id="messages", value=5)
    assert (created.success, updated.success, checked.allowed) == (True, True, True)
    assert checked.balance is not None
    assert checked.balance.remaining == 110
    if version == "2.5":
        # At 2.5 an omitted ``async`` means queued: 202, no balance; the worker applies it.
        assert (tracked.queued, tracked.balance, tracked.value) == (True, None, 5)
    else:
        assert tracked.queued is False
        assert tracked.balance is not None
        assert tracked.balance.remaining == 105
    assert [event["value"] for event in emu.ledger()] == [5]
    assert emu.balances("c1")["messages"]["remaining"] == 105


@pytest.mark.parametrize("version", ["2.1.1", "2.6", "2026-03-01"])
async def test_an_unknown_version_is_refused_with_400(emu: Emulator, version: str) -> None:
    """An unknown patch, minor or CalVer date is 400 invalid_api_version, as parseVersion."""
    async with client(emu, version) as autumn:
        with pytest.raises(BadRequestError) as info:
            await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (info.value.status_code, info.value.code) == (400, "invalid_api_version")
    assert info.value.message == f'"{version}" is not a valid API version'


async def test_server_fail_open_202_reaches_the_caller_as_a_server_fallback(
    emu: Emulator,
) -> None:
    """A 202 fail-open check is allowed, has no balance and says the server produced it."""
    emu.set_fault(CHECK, "status", status=202)
    async with client(emu) as autumn:
        result = await autumn.balances.check(
            customer_id="c1", feature_id="messages", entity_id="seat_1", required_balance=3
        )
    assert (result.allowed, result.fallback, result.fallback_source) == (True, True, "server")
    assert (result.balance, result.flag, result.fallback_cause) == (None, None, None)
    assert (result.customer_id, result.entity_id, result.required_balance) == ("c1", "seat_1", 3)
    assert emu.stats()[CHECK] == 1  # a 202 is an answer, never retried


async def test_server_fail_open_202_deducts_nothing(emu: Emulator) -> None:
    """A fail-open answer to check(send_event=True) evaluates and deducts nothing."""
    await emu.add_balance(customer_id="c1", feature_id="messages", included_grant=10)
    emu.set_fault(CHECK, "status", status=202)
    async with client(emu) as autumn:
        result = await autumn.balances.check(
            customer_id="c1", feature_id="messages", send_event=True
        )
    assert (result.allowed, result.fallback_source) == (True, "server")
    assert emu.ledger() == []


async def test_server_queued_202_track_is_queued_and_applied_once(emu: Emulator) -> None:
    """A 202 queued track (org cap reached) returns queued=True and is applied by the worker."""
    await emu.add_balance(customer_id="c1", feature_id="messages", included_grant=10)
    emu.set_fault(TRACK, "status", status=202)
    async with client(emu) as autumn:
        result = await autumn.balances.track(
            customer_id="c1", event_name="ai_request", value=2, entity_id="seat_1"
        )
    assert (result.queued, result.replayed, result.balance) == (True, False, None)
    assert (result.customer_id, result.entity_id, result.event_name, result.value) == (
        "c1",
        "seat_1",
        "ai_request",
        2,
    )
    assert emu.stats()[TRACK] == 1
    assert [event["feature_id"] for event in emu.ledger()] == ["messages", "api_calls"]


async def test_queued_track_of_an_unknown_customer_is_dropped_later(emu: Emulator) -> None:
    """A queued track is answered 202 before the customer is looked up; the worker drops it."""
    async with client(emu, "2.5") as autumn:
        result = await autumn.balances.track(customer_id="ghost", feature_id="messages")
    assert result.queued is True
    assert emu.ledger() == []
    assert [(e["customer_id"], e["code"]) for e in emu.dropped()] == [
        ("ghost", "customer_not_found")
    ]
