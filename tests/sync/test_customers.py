"""The blocking client's customers and entities against an emulator without auto-creation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from autumn_emulator import EmulatorThread
from autumn_sync import Autumn, Customer, Entity, NotFoundError, UsageError

SECRET = "am_sk_test_sync_customers"


@pytest.fixture
def autumn() -> Iterator[Autumn]:
    with EmulatorThread(secret_key=SECRET) as emu:
        emu.add_feature("messages")
        emu.add_feature("seats", consumable=False)
        with Autumn(secret_key=SECRET, server_url=emu.url) as client:
            yield client


def test_quickstart_flow(autumn: Autumn) -> None:
    """get_or_create, grant, check, track (with a timestamp), then read the customer back."""
    customer = autumn.customers.get_or_create(customer_id="c1", email="ann@example.com")
    assert isinstance(customer, Customer)
    autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    assert autumn.balances.check(customer_id="c1", feature_id="messages").allowed
    an_hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    autumn.balances.track(customer_id="c1", feature_id="messages", value=2, timestamp=an_hour_ago)
    assert autumn.customers.get(customer_id="c1").balances["messages"].remaining == 3


def test_entities_and_errors(autumn: Autumn) -> None:
    """Entities round-trip; an unknown one is NotFoundError; bad input never leaves."""
    autumn.customers.get_or_create(customer_id="c1")
    entity = autumn.entities.create(customer_id="c1", entity_id="seat_1", feature_id="seats")
    assert isinstance(entity, Entity)
    assert [e.id for e in autumn.entities.list(customer_id="c1").list] == ["seat_1"]
    assert autumn.entities.delete(customer_id="c1", entity_id="seat_1").success
    with pytest.raises(NotFoundError):
        autumn.entities.get(customer_id="c1", entity_id="seat_1")
    with pytest.raises(UsageError) as info:
        autumn.customers.get_or_create(customer_id="has space")
    assert info.value.field == "customer_id"
    page = autumn.customers.list()
    assert [c.id for c in page.list] == ["c1"]
    assert autumn.customers.delete(customer_id="c1").success
