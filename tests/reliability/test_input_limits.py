"""Ids, numbers, times and event sizes the server would mangle are refused before sending
(issue 12 items 15 and 16), with a UsageError naming the field.

Against the emulator: after each refused call its request counters must still be empty.
The limits are documented in the README: ids are at most ``MAX_ID_LENGTH`` (255)
characters without control characters; numbers are finite and integers within
``2**53 - 1`` (Autumn reads doubles); times are not before 1970; one usage event is at
most ``MAX_EVENT_BYTES`` (64 KiB) as JSON, for ``balances.track`` and the batcher alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from autumn_async import AsyncAutumn, UsageError
from autumn_async._config import MAX_EVENT_BYTES, MAX_ID_LENGTH
from autumn_emulator import Emulator

KEY = "am_sk_test_limits0123456789"
CUSTOMER = "cus_limits"
BEFORE_1970 = dt.datetime(1969, 12, 31, 23, 0, tzinfo=dt.timezone.utc)

BAD_IDS = {
    "nul": "cus\x00tomer",
    "cr": "cus\rtomer",
    "lf": "cus\ntomer",
    "escape": "cus\x1b[2Jtomer",
    "del": "cus\x7ftomer",
    "c1": "cus\x85tomer",
    "too_long": "c" * (MAX_ID_LENGTH + 1),
}

#: (operation, the arguments of a valid call) for every operation.
VALID: dict[str, dict[str, Any]] = {
    "create": {"customer_id": CUSTOMER, "feature_id": "seats", "included": 5},
    "update": {"customer_id": CUSTOMER, "feature_id": "messages", "add_to_balance": 1},
    "check": {"customer_id": CUSTOMER, "feature_id": "messages"},
    "track": {"customer_id": CUSTOMER, "feature_id": "messages", "value": 1},
}
ID_FIELDS = {
    "create": ["customer_id", "feature_id", "entity_id", "balance_id"],
    "update": ["customer_id", "feature_id", "entity_id", "balance_id", "customer_entitlement_id"],
    "check": ["customer_id", "feature_id", "entity_id"],
    "track": ["customer_id", "feature_id", "entity_id", "idempotency_key"],
}
ID_CASES = [(op, field) for op, fields in ID_FIELDS.items() for field in fields]

NUMBER_CASES: list[tuple[str, str, Any]] = [
    ("track", "value", 2**64),
    ("track", "value", 2**53),
    ("track", "value", -(2**63)),
    ("create", "included", 2**64),
    ("update", "add_to_balance", 10**30),
    ("check", "required_balance", 2**64),
    ("track", "properties", {"big": 2**64}),
    ("check", "properties", {"nested": [1, {"n": -(2**60)}]}),
]
TIME_CASES: list[tuple[str, str, Any]] = [
    ("create", "expires_at", BEFORE_1970),
    ("create", "expires_at", -1),
    ("update", "expires_at", BEFORE_1970),
    ("update", "next_reset_at", BEFORE_1970),
]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """An emulator with a customer holding 100 messages."""
    async with Emulator(secret_key=KEY) as emulator:
        await emulator.add_feature("messages")
        await emulator.add_feature("seats")
        await emulator.add_customer(CUSTOMER)
        await emulator.add_balance(customer_id=CUSTOMER, feature_id="messages", included_grant=100)
        yield emulator


async def _refused(emu: Emulator, op: str, field: str, args: dict[str, Any]) -> UsageError:
    async with AsyncAutumn(secret_key=KEY, server_url=emu.url) as autumn:
        with pytest.raises(UsageError) as info:
            await getattr(autumn.balances, op)(**args)
    assert info.value.field == field, str(info.value)
    assert emu.stats() == {}, "a refused call reached the server"
    return info.value


@pytest.mark.parametrize("bad", list(BAD_IDS))
@pytest.mark.parametrize(("op", "field"), ID_CASES)
async def test_bad_ids_are_refused_before_sending(
    emu: Emulator, op: str, field: str, bad: str
) -> None:
    """Control characters (NUL, CR, LF, ESC, DEL, C1) or over 255 characters: refused."""
    args = {**VALID[op], field: BAD_IDS[bad]}
    error = await _refused(emu, op, field, args)
    assert "\n" not in str(error) and "\r" not in str(error)


async def test_the_longest_id_and_unicode_are_accepted(emu: Emulator) -> None:
    """255 characters and non-ASCII text are fine: the limit refuses only what it says."""
    async with AsyncAutumn(secret_key=KEY, server_url=emu.url) as autumn:
        key = "k" * MAX_ID_LENGTH
        await autumn.balances.track(
            customer_id=CUSTOMER, feature_id="messages", value=1, idempotency_key=key
        )
        result = await autumn.balances.check(customer_id=CUSTOMER, feature_id="messages")
    assert result.allowed
    assert emu.ledger()[0]["idempotency_key"] == key


@pytest.mark.parametrize(("op", "field", "value"), NUMBER_CASES + TIME_CASES)
async def test_numbers_and_times_out_of_range_name_the_field(
    emu: Emulator, op: str, field: str, value: Any
) -> None:
    """2**64 (and any int past 2**53 - 1) and times before 1970: refused, field named."""
    await _refused(emu, op, field, {**VALID[op], field: value})


def _properties_of(size: int) -> dict[str, str]:
    """Properties that make a track body of exactly ``size`` bytes of JSON."""
    base = len(
        b'{"customer_id":"cus_limits","feature_id":"messages","value":1,"properties":{"p":""},'
        b'"idempotency_key":"00000000-0000-4000-8000-000000000000"}'
    )
    return {"p": "x" * (size - base)}


async def test_an_event_over_the_size_limit_is_refused_by_track(emu: Emulator) -> None:
    """One byte over MAX_EVENT_BYTES: refused; exactly at the limit: delivered."""
    await _refused(
        emu,
        "track",
        "properties",
        {**VALID["track"], "properties": _properties_of(MAX_EVENT_BYTES + 1)},
    )
    await _refused(
        emu, "track", "properties", {**VALID["track"], "properties": {"p": "x" * 10_000_000}}
    )
    async with AsyncAutumn(secret_key=KEY, server_url=emu.url) as autumn:
        await autumn.balances.track(**VALID["track"], properties=_properties_of(MAX_EVENT_BYTES))
    assert len(emu.ledger()) == 1


@pytest.mark.parametrize("spool", [False, True])
async def test_the_batcher_refuses_oversized_events_and_bad_ids(
    emu: Emulator, tmp_path: Path, spool: bool
) -> None:
    """batcher.track() applies the same limits, before anything is queued or spooled."""
    options: dict[str, Any] = {"flush_interval": 0.01}
    if spool:
        options["spool_path"] = str(tmp_path / "spool.db")
    async with (
        AsyncAutumn(secret_key=KEY, server_url=emu.url) as autumn,
        autumn.batcher(**options) as batcher,
    ):
        for args, field in (
            ({"properties": {"p": "x" * 10_000_000}}, "properties"),
            ({"customer_id": "c\nInjected"}, "customer_id"),
            ({"value": 2**64}, "value"),
        ):
            with pytest.raises(UsageError) as info:
                await batcher.track(**{**VALID["track"], **args})
            assert info.value.field == field
        await batcher.track(**VALID["track"])
        await batcher.flush()
        assert batcher.stats.enqueued == 1
    assert len(emu.ledger()) == 1


def test_the_sync_client_applies_the_same_limits() -> None:
    """autumn_sync.Autumn refuses the same inputs with the same fields."""
    from autumn_sync import Autumn

    with Autumn(secret_key=KEY, server_url="http://127.0.0.1:9") as autumn:
        for args, field in (
            ({"customer_id": "a\x00b"}, "customer_id"),
            ({"value": 2**64}, "value"),
            ({"properties": _properties_of(MAX_EVENT_BYTES + 1)}, "properties"),
        ):
            with pytest.raises(UsageError) as info:
                autumn.balances.track(**{**VALID["track"], **args})
            assert info.value.field == field
