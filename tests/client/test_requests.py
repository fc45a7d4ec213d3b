"""Argument checking and wire bodies, before anything is sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from autumn_async import (
    AsyncAutumn,
    BalancesCreateReset,
    Interval,
    MockTransport,
    Response,
    UsageError,
)
from autumn_async._requests import build_check, build_create, build_track, build_update

from ..conftest import SECRET

CREATE_DEFAULTS: dict[str, Any] = dict.fromkeys(
    [
        "entity_id",
        "included",
        "unlimited",
        "reset",
        "expires_at",
        "granted_balance",
        "included_grant",
        "balance_id",
        "rollover",
        "next_reset_at",
    ]
)
UPDATE_DEFAULTS: dict[str, Any] = dict.fromkeys(
    [
        "entity_id",
        "current_balance",
        "interval",
        "granted_balance",
        "usage",
        "customer_entitlement_id",
        "next_reset_at",
        "add_to_balance",
        "remaining",
        "included_grant",
        "balance_id",
        "expires_at",
    ]
)


def create(**kw: Any) -> dict[str, Any]:
    return build_create(**{**CREATE_DEFAULTS, "customer_id": "c", "feature_id": "f", **kw})


def update(**kw: Any) -> dict[str, Any]:
    return build_update(**{**UPDATE_DEFAULTS, "customer_id": "c", "feature_id": "f", **kw})


def check(**kw: Any) -> dict[str, Any]:
    base = dict.fromkeys(
        ["entity_id", "required_balance", "properties", "send_event", "with_preview"]
    )
    return build_check(**{**base, "customer_id": "c", "feature_id": "f", **kw})


def track(**kw: Any) -> dict[str, Any]:
    base = dict.fromkeys(
        ["feature_id", "event_name", "value", "properties", "idempotency_key", "entity_id"]
    )
    return build_track(**{**base, "customer_id": "c", **kw})


def test_included_goes_on_the_wire_as_included_grant() -> None:
    """included (and granted_balance) are sent as included_grant, the public name.

    ``shared/api/balances/create/createBalanceParams.ts`` marks ``granted_balance``
    internal and has no ``included`` (spec §17.4).
    """
    body = create(included=100)
    assert body == {"customer_id": "c", "feature_id": "f", "included_grant": 100}
    assert create(granted_balance=7)["included_grant"] == 7


def test_unset_fields_are_not_sent() -> None:
    """Only the fields the caller set appear in the body."""
    assert check() == {"customer_id": "c", "feature_id": "f"}
    assert track(feature_id="f") == {"customer_id": "c", "feature_id": "f"}


@pytest.mark.parametrize(
    "reset",
    ["month", Interval.MONTH, {"interval": "month"}, BalancesCreateReset(interval="month")],
)
def test_reset_accepts_model_dict_or_string(reset: Any) -> None:
    """reset may be a string, an Interval, a dict or the model."""
    assert create(included=1, reset=reset)["reset"] == {"interval": "month"}


def test_reset_with_count() -> None:
    """interval_count travels with the interval."""
    body = create(included=1, reset={"interval": "day", "interval_count": 2})
    assert body["reset"] == {"interval": "day", "interval_count": 2}


def test_update_interval_accepts_enum_or_string() -> None:
    """update's interval filter takes an Interval or its string."""
    assert update(interval=Interval.WEEK, add_to_balance=1)["interval"] == "week"
    assert update(interval="week", add_to_balance=1)["interval"] == "week"


def test_aware_datetime_becomes_milliseconds() -> None:
    """expires_at may be an aware datetime; it is sent as Unix milliseconds."""
    when = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert create(included=1, expires_at=when)["expires_at"] == 1893456000000


def test_update_sends_the_public_names_remaining_and_included_grant() -> None:
    """current_balance travels as remaining; granted_balance as included_grant.

    ``shared/api/balances/update/updateBalanceParams.ts``: ``remaining`` and
    ``included_grant`` are public, ``current_balance`` internal, ``granted_balance``
    dropped (spec §17.3).
    """
    assert update(current_balance=5) == {"customer_id": "c", "feature_id": "f", "remaining": 5}
    body = update(granted_balance=50, current_balance=10)
    assert body == {"customer_id": "c", "feature_id": "f", "remaining": 10, "included_grant": 50}


@pytest.mark.parametrize(
    ("builder", "kwargs", "field"),
    [
        (create, {"customer_id": ""}, "customer_id"),
        (create, {"customer_id": "   "}, "customer_id"),
        (create, {"feature_id": None}, "feature_id"),
        (create, {"feature_id": 7}, "feature_id"),
        (create, {"included": 1, "granted_balance": 2}, "included"),
        (create, {"included": float("nan")}, "included"),
        (create, {"included": float("inf")}, "included"),
        (create, {"included": True}, "included"),
        (create, {"included": "10"}, "included"),
        (create, {"unlimited": "yes"}, "unlimited"),
        (create, {"unlimited": True, "included": 5}, "unlimited"),
        (create, {"reset": "fortnight"}, "reset.interval"),
        (create, {"reset": {"interval_count": 1}}, "reset.interval"),
        (create, {"included": 1, "next_reset_at": 1}, "next_reset_at"),
        (create, {"expires_at": dt.datetime(2030, 1, 1)}, "expires_at"),
        (create, {"expires_at": -5}, "expires_at"),
        (create, {"rollover": [1]}, "rollover"),
        (update, {"current_balance": 1, "add_to_balance": 2}, "add_to_balance"),
        (update, {"remaining": 1, "add_to_balance": 2}, "add_to_balance"),
        (update, {"remaining": 1, "current_balance": 2}, "current_balance"),
        (update, {"usage": 1, "remaining": 2}, "usage"),
        (update, {"interval": "sometimes"}, "interval"),
        (check, {"required_balance": float("nan")}, "required_balance"),
        (check, {"properties": {"when": dt.date(2020, 1, 1)}}, "properties"),
        (check, {"properties": {1: "x"}}, "properties"),
        (check, {"properties": ["a"]}, "properties"),
        (check, {"send_event": 1}, "send_event"),
        (check, {"entity_id": ""}, "entity_id"),
        (track, {}, "feature_id"),
        (track, {"feature_id": "f", "event_name": "e"}, "feature_id"),
        (track, {"event_name": ""}, "event_name"),
        (track, {"feature_id": "f", "value": float("-inf")}, "value"),
        (track, {"feature_id": "f", "idempotency_key": ""}, "idempotency_key"),
        (track, {"feature_id": "f", "idempotency_key": "k" * 300}, "idempotency_key"),
        (track, {"feature_id": "f", "properties": {"x": float("nan")}}, "properties"),
    ],
)
def test_bad_input_names_the_field(builder: Any, kwargs: dict[str, Any], field: str) -> None:
    """Each bad argument is a UsageError that names the field."""
    with pytest.raises(UsageError) as info:
        builder(**kwargs)
    assert info.value.field == field
    assert field.split(".", maxsplit=1)[0] in str(info.value)


async def test_nothing_is_sent_for_bad_input() -> None:
    """A UsageError is raised before the transport is touched."""
    transport = MockTransport(lambda _: Response(status=200, headers={}, body=b"{}"))
    async with AsyncAutumn(secret_key=SECRET, transport=transport) as autumn:
        with pytest.raises(UsageError):
            await autumn.balances.track(customer_id="c", feature_id="f", event_name="e")
        with pytest.raises(UsageError):
            await autumn.balances.create(
                customer_id="c", feature_id="f", included=1, granted_balance=2
            )
    assert transport.requests == []


def test_new_keys_are_random_uuid4s() -> None:
    """Generated idempotency keys are distinct, valid version-4 UUIDs in canonical form."""
    import uuid

    from autumn_async._checks import new_key

    keys = [new_key() for _ in range(1000)]
    assert len(set(keys)) == 1000
    for key in keys[:50]:
        parsed = uuid.UUID(key)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == key
