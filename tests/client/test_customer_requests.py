"""Customer, entity and newer track arguments: checked before sending, errors name the field.

Rules from the server source (``useautumn/autumn``): ``shared/api/common/customerId.ts``,
``shared/api/common/customerData.ts``, ``shared/api/customers/crud/*.ts``,
``shared/api/entities/crud/*.ts``, ``shared/api/balances/track/trackTimestamp.ts`` and
``overageBehavior.ts``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autumn_async import NOT_GIVEN, UsageError
from autumn_async._customer_requests import (
    build_customer_get,
    build_customer_update,
    build_entity_create,
    build_entity_ref,
    build_entity_update,
    build_get_or_create,
    build_list,
    uses_cursor_pages,
)
from autumn_async._requests import build_track

GET_OR_CREATE_DEFAULTS: dict[str, Any] = dict.fromkeys(
    [
        "name",
        "email",
        "fingerprint",
        "metadata",
        "stripe_id",
        "create_in_stripe",
        "auto_enable_plan_id",
        "send_email_receipts",
        "currency",
        "billing_controls",
        "config",
        "expand",
    ]
)
UPDATE_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(["name", "email", "fingerprint", "stripe_id", "currency"], NOT_GIVEN),
    **dict.fromkeys(
        ["metadata", "send_email_receipts", "billing_controls", "config", "new_customer_id"]
    ),
}
LIST_DEFAULTS: dict[str, Any] = dict.fromkeys(
    ["limit", "offset", "start_cursor", "search", "plans", "subscription_status", "processors"]
)


def get_or_create(**kw: Any) -> dict[str, Any]:
    return build_get_or_create(**{**GET_OR_CREATE_DEFAULTS, "customer_id": "c1", **kw})


def update(**kw: Any) -> dict[str, Any]:
    return build_customer_update(**{**UPDATE_DEFAULTS, "customer_id": "c1", **kw})


def listing(cursor_pages: bool | None = False, **kw: Any) -> dict[str, Any]:
    return build_list(cursor_pages=cursor_pages, **{**LIST_DEFAULTS, **kw})


def track(**kw: Any) -> dict[str, Any]:
    base = dict.fromkeys(["event_name", "value", "properties", "idempotency_key", "entity_id"])
    return build_track(**{**base, "customer_id": "c", "feature_id": "f", **kw})


def test_get_or_create_sends_only_what_was_given() -> None:
    """Unset fields stay off the wire; metadata is copied as JSON."""
    body = get_or_create(name="Ann", email="ann@example.com", metadata={"tier": "gold"})
    assert body == {
        "customer_id": "c1",
        "name": "Ann",
        "email": "ann@example.com",
        "metadata": {"tier": "gold"},
    }
    assert get_or_create() == {"customer_id": "c1"}


@pytest.mark.parametrize("bad", ["", "a b", "ann@example.com", "org.1", "c/1", "c#1"])
def test_customer_ids_follow_the_server_schema(bad: str) -> None:
    """Ids the server's CustomerIdSchema refuses are a UsageError naming customer_id."""
    with pytest.raises(UsageError) as info:
        get_or_create(customer_id=bad)
    assert info.value.field == "customer_id"


def test_customer_ids_allow_colons_dashes_and_underscores() -> None:
    """The characters the server allows pass unchanged."""
    assert build_customer_get(customer_id="org:team-1_a", expand=None) == {
        "customer_id": "org:team-1_a"
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", 3),
        ("name", 5),
        ("metadata", ["a"]),
        ("metadata", {"x": float("nan")}),
        ("metadata", {1: "non-string key"}),
        ("send_email_receipts", "yes"),
        ("currency", "dollars"),
        ("expand", "entities"),
        ("billing_controls", "on"),
    ],
)
def test_bad_customer_fields_name_the_field(field: str, value: object) -> None:
    """Each malformed field is refused before sending, naming itself."""
    with pytest.raises(UsageError) as info:
        get_or_create(**{field: value})
    assert info.value.field == field


def test_update_distinguishes_unset_from_cleared() -> None:
    """NOT_GIVEN leaves a field alone; None sends null, which clears it on the server."""
    body = update(name=None, email="b@example.com", metadata={"old": None, "new": 1})
    assert body == {
        "customer_id": "c1",
        "name": None,
        "email": "b@example.com",
        "metadata": {"old": None, "new": 1},
    }


def test_update_needs_something_to_change() -> None:
    """An update with no field is a mistake, refused before sending."""
    with pytest.raises(UsageError, match="at least one field"):
        update()


def test_update_renames_with_a_valid_id() -> None:
    """new_customer_id is checked like any customer id."""
    assert update(new_customer_id="c2")["new_customer_id"] == "c2"
    with pytest.raises(UsageError) as info:
        update(new_customer_id="c 2")
    assert info.value.field == "new_customer_id"


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2.1", False), ("2.2.0", False), ("2.3", True), ("2.5.0", True), ("2025-04-17", None)],
)
def test_pagination_mode_follows_the_api_version(version: str, expected: bool | None) -> None:
    """Offset pages up to 2.2, cursor pages from 2.3 (handleListCustomersV2.ts)."""
    assert uses_cursor_pages(version) is expected


def test_list_refuses_the_other_modes_parameter() -> None:
    """The server ignores the other mode's parameter, which would page one forever."""
    with pytest.raises(UsageError) as info:
        listing(cursor_pages=False, start_cursor="abc")
    assert info.value.field == "start_cursor"
    with pytest.raises(UsageError) as info:
        listing(cursor_pages=True, offset=10)
    assert info.value.field == "offset"
    assert listing(cursor_pages=False, offset=10, limit=20) == {"offset": 10, "limit": 20}
    assert listing(cursor_pages=True, start_cursor="abc") == {"start_cursor": "abc"}


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": True}, "limit"),
        ({"offset": -1}, "offset"),
        ({"search": 3}, "search"),
        ({"subscription_status": "past_due"}, "subscription_status"),
        ({"processors": ["paypal"]}, "processors"),
        ({"plans": [{"versions": [1]}]}, "plans"),
        ({"sort_order": "newest"}, "sort_order"),
    ],
)
def test_bad_list_arguments_name_the_field(kw: dict[str, Any], field: str) -> None:
    """Page sizes, filters and sort orders outside the server's schema are refused."""
    with pytest.raises(UsageError) as info:
        listing(**kw)
    assert info.value.field == field


def test_cursor_pages_may_be_larger() -> None:
    """Cursor pages go up to 5000 items (createCursorLimitSchema)."""
    assert listing(cursor_pages=True, limit=5000) == {"limit": 5000}


def test_entity_bodies() -> None:
    """Entity calls always name the customer; update carries billing_controls only."""
    assert build_entity_create(
        customer_id="c1",
        entity_id="seat_1",
        feature_id="seats",
        name="Seat one",
        billing_controls=None,
        customer_data={"name": "Ann"},
    ) == {
        "customer_id": "c1",
        "entity_id": "seat_1",
        "feature_id": "seats",
        "name": "Seat one",
        "customer_data": {"name": "Ann"},
    }
    assert build_entity_ref(customer_id="c1", entity_id="seat_1") == {
        "customer_id": "c1",
        "entity_id": "seat_1",
    }
    with pytest.raises(UsageError) as info:
        build_entity_ref(customer_id=None, entity_id="seat_1")
    assert info.value.field == "customer_id"
    with pytest.raises(UsageError) as info:
        build_entity_update(customer_id="c1", entity_id="seat_1", billing_controls=None)
    assert info.value.field == "billing_controls"


def test_track_timestamp_accepts_ms_and_aware_datetimes() -> None:
    """Whole milliseconds pass; an aware datetime becomes milliseconds."""
    assert track(timestamp=1_700_000_000_000)["timestamp"] == 1_700_000_000_000
    moment = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert track(timestamp=moment)["timestamp"] == 1_704_164_645_000


@pytest.mark.parametrize(
    "bad",
    [
        0,
        -5,
        1.5,
        True,
        "1700000000000",
        float("inf"),
        dt.datetime(2024, 1, 2),  # naive
        "future",
    ],
)
def test_track_timestamp_is_checked(bad: object) -> None:
    """Zero, fractions, naive datetimes and future times are refused, naming timestamp."""
    if bad == "future":
        bad = (time.time() + 3600) * 1000
    with pytest.raises(UsageError) as info:
        track(timestamp=bad)
    assert info.value.field == "timestamp"


def test_track_overage_behavior() -> None:
    """cap and overflow are sent; anything else (reject is internal) is refused."""
    assert track(overage_behavior="overflow")["overage_behavior"] == "overflow"
    assert track(overage_behavior="cap")["overage_behavior"] == "cap"
    assert "overage_behavior" not in track()
    for bad in ("reject", "CAP", 1):
        with pytest.raises(UsageError) as info:
            track(overage_behavior=bad)
        assert info.value.field == "overage_behavior"


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.one_of(st.text(max_size=4), st.integers(), st.none()), max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), st.integers(), max_size=2),
    st.just(NOT_GIVEN),
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_argument_gives_a_body_or_a_usage_error(data: st.DataObject) -> None:
    """Whatever is passed, a builder returns a JSON body or raises UsageError, nothing else."""
    builders = {
        "get_or_create": (get_or_create, GET_OR_CREATE_DEFAULTS),
        "update": (update, UPDATE_DEFAULTS),
        "list": (listing, LIST_DEFAULTS),
    }
    builder, fields = builders[data.draw(st.sampled_from(sorted(builders)))]
    chosen = data.draw(st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True))
    kwargs = {name: data.draw(ANYTHING, label=name) for name in chosen}
    try:
        body = builder(**kwargs)
    except UsageError:
        return
    assert json.loads(json.dumps(body, allow_nan=False)) == body
