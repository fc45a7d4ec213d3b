"""customers.* and entities.* against the emulator, through the SDK: the state they keep.

Semantics from ``server/src/internal/customers/`` (get-or-create, update's metadata
merge, delete) and ``server/src/internal/entities/`` (create on non-consumable features,
409 on a duplicate, entity-scoped balances); pagination from
``handlers/handleListCustomersV2.ts`` and ``entities/handlers/handleListEntitiesV2.ts``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from emulator_support import FakeClock

from autumn_async import (
    AsyncAutumn,
    BadRequestError,
    ConflictError,
    NotFoundError,
    UsageError,
)
from autumn_emulator import Emulator
from autumn_sync import Autumn


@pytest.fixture
async def fresh(clock: FakeClock) -> AsyncIterator[Emulator]:
    """An emulator with features but no customers, started without auto-creation."""
    async with Emulator(clock=clock) as emulator:
        await emulator.add_feature("messages")
        await emulator.add_feature("seats", consumable=False)
        await emulator.add_feature("credits", type="credit_system", credit_schema={"messages": 1})
        yield emulator


@pytest.fixture
async def autumn(fresh: Emulator) -> AsyncIterator[AsyncAutumn]:
    async with AsyncAutumn(
        secret_key=fresh.secret_key, server_url=fresh.url, retry_config=None
    ) as client:
        yield client


async def test_check_and_track_work_once_the_customer_is_created(autumn: AsyncAutumn) -> None:
    """Without auto-creation, check is a 404 until get_or_create; then check/track work."""
    with pytest.raises(NotFoundError) as info:
        await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert info.value.code == "customer_not_found"

    customer = await autumn.customers.get_or_create(customer_id="c1", name="Ann")
    assert (customer.id, customer.name, customer.balances) == ("c1", "Ann", {})
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    assert (await autumn.balances.check(customer_id="c1", feature_id="messages")).allowed
    tracked = await autumn.balances.track(customer_id="c1", feature_id="messages", value=4)
    assert tracked.balance is not None
    assert tracked.balance.remaining == 6


async def test_customers_get_reflects_balances(autumn: AsyncAutumn) -> None:
    """customers.get shows each balance as check shows it, after usage."""
    await autumn.customers.get_or_create(customer_id="c1")
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=100)
    await autumn.balances.track(customer_id="c1", feature_id="messages", value=30)
    customer = await autumn.customers.get(customer_id="c1")
    checked = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert customer.balances["messages"] == checked.balance
    assert customer.balances["messages"].remaining == 70


async def test_get_or_create_returns_the_existing_customer(autumn: AsyncAutumn) -> None:
    """A second call fills only empty fields and leaves metadata alone."""
    first = await autumn.customers.get_or_create(customer_id="c1", metadata={"a": 1})
    again = await autumn.customers.get_or_create(
        customer_id="c1", name="Ann", email="ann@example.com", metadata={"b": 2}
    )
    assert again.created_at == first.created_at
    assert (again.name, again.email, again.metadata) == ("Ann", "ann@example.com", {"a": 1})
    kept = await autumn.customers.get_or_create(customer_id="c1", name="Bob")
    assert kept.name == "Ann"


async def test_update_merges_metadata_clears_fields_and_renames(autumn: AsyncAutumn) -> None:
    """metadata keys set to None are deleted; None clears a field; new_customer_id renames."""
    await autumn.customers.get_or_create(customer_id="c1", name="Ann", metadata={"a": 1, "b": 2})
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    updated = await autumn.customers.update(
        customer_id="c1", name=None, metadata={"a": None, "c": 3}, new_customer_id="c2"
    )
    assert (updated.id, updated.name, updated.metadata) == ("c2", None, {"b": 2, "c": 3})
    assert updated.balances["messages"].granted == 5
    with pytest.raises(NotFoundError):
        await autumn.customers.get(customer_id="c1")
    await autumn.customers.get_or_create(customer_id="c3")
    with pytest.raises(ConflictError) as info:
        await autumn.customers.update(customer_id="c2", new_customer_id="c3")
    assert info.value.code == "customer_already_exists"


async def test_unknown_customer_is_not_found_everywhere(autumn: AsyncAutumn) -> None:
    """get, update and delete of an unknown customer are NotFoundError."""
    for call in (
        autumn.customers.get(customer_id="nobody"),
        autumn.customers.update(customer_id="nobody", name="X"),
        autumn.customers.delete(customer_id="nobody"),
    ):
        with pytest.raises(NotFoundError) as info:
            await call
        assert info.value.code == "customer_not_found"


async def test_delete_removes_the_customer_and_its_balances(autumn: AsyncAutumn) -> None:
    """After delete, the customer is gone; get_or_create starts it afresh."""
    await autumn.customers.get_or_create(customer_id="c1")
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    assert (await autumn.customers.delete(customer_id="c1")).success
    with pytest.raises(NotFoundError):
        await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (await autumn.customers.get_or_create(customer_id="c1")).balances == {}


async def test_offset_pages_at_2_1(autumn: AsyncAutumn, clock: FakeClock) -> None:
    """Newest first; has_more is true on a full page, as the server computes it."""
    for index in range(5):
        clock.now += 1
        await autumn.customers.get_or_create(customer_id=f"c{index}")
    first = await autumn.customers.list(limit=2)
    assert [c.id for c in first.list] == ["c4", "c3"]
    assert (first.has_more, first.total, first.total_count) == (True, 2, 5)
    last = await autumn.customers.list(limit=2, offset=4)
    assert ([c.id for c in last.list], last.more) == (["c0"], False)
    found = await autumn.customers.list(search="C3")
    assert [c.id for c in found.list] == ["c3"]
    assert found.total_filtered_count == 1


async def test_cursor_pages_from_2_3(fresh: Emulator, clock: FakeClock) -> None:
    """At 2.3 every customer is seen once by following next_cursor."""
    async with AsyncAutumn(
        secret_key=fresh.secret_key, server_url=fresh.url, x_api_version="2.3"
    ) as autumn:
        for index in range(7):
            clock.now += 1
            await autumn.customers.get_or_create(customer_id=f"c{index}")
        seen: list[str | None] = []
        cursor = ""
        while True:
            page = await autumn.customers.list(start_cursor=cursor, limit=3)
            seen += [c.id for c in page.list]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [f"c{index}" for index in reversed(range(7))]
        oldest_first: list[str | None] = []
        cursor = ""
        while True:
            page = await autumn.customers.list(start_cursor=cursor, limit=4, sort_order="asc")
            oldest_first += [c.id for c in page.list]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert oldest_first == [f"c{index}" for index in range(7)]
        with pytest.raises(UsageError):
            await autumn.customers.list(offset=3)
        with pytest.raises(BadRequestError) as info:
            await autumn.customers.list(start_cursor="not-a-cursor")
        assert info.value.code == "invalid_cursor"


async def test_entity_lifecycle_and_scoped_balances(autumn: AsyncAutumn) -> None:
    """An entity gets its own balances through entity_id=, on top of the customer's."""
    await autumn.customers.get_or_create(customer_id="c1")
    seat = await autumn.entities.create(
        customer_id="c1", entity_id="seat_1", feature_id="seats", name="Seat one"
    )
    assert (seat.id, seat.name, seat.customer_id, seat.feature_id) == (
        "seat_1",
        "Seat one",
        "c1",
        "seats",
    )
    await autumn.balances.create(
        customer_id="c1", entity_id="seat_1", feature_id="messages", included=10
    )
    await autumn.balances.track(customer_id="c1", entity_id="seat_1", feature_id="messages")
    entity = await autumn.entities.get(customer_id="c1", entity_id="seat_1")
    assert entity.balances["messages"].remaining == 9
    check = await autumn.balances.check(customer_id="c1", entity_id="seat_1", feature_id="messages")
    assert check.balance == entity.balances["messages"]

    listed = await autumn.entities.list(customer_id="c1")
    assert [e.id for e in listed.list] == ["seat_1"]
    updated = await autumn.entities.update(
        customer_id="c1", entity_id="seat_1", billing_controls={"spend_limits": []}
    )
    assert updated.billing_controls == {"spend_limits": []}

    assert (await autumn.entities.delete(customer_id="c1", entity_id="seat_1")).success
    with pytest.raises(NotFoundError) as info:
        await autumn.entities.get(customer_id="c1", entity_id="seat_1")
    assert info.value.code == "entity_not_found"
    with pytest.raises(NotFoundError):
        await autumn.balances.check(customer_id="c1", entity_id="seat_1", feature_id="messages")


async def test_entity_rules(autumn: AsyncAutumn) -> None:
    """Entities need a non-consumable feature and a fresh id; create makes the customer."""
    seat = await autumn.entities.create(
        customer_id="new_cus",
        entity_id="seat_1",
        feature_id="seats",
        customer_data={"name": "Made by entities.create"},
    )
    assert seat.customer_id == "new_cus"
    assert (await autumn.customers.get(customer_id="new_cus")).name == "Made by entities.create"
    with pytest.raises(ConflictError) as conflict:
        await autumn.entities.create(customer_id="new_cus", entity_id="seat_1", feature_id="seats")
    assert conflict.value.code == "entity_already_exists"
    for consumable in ("messages", "credits"):
        with pytest.raises(BadRequestError, match="consumable"):
            await autumn.entities.create(
                customer_id="new_cus", entity_id="seat_2", feature_id=consumable
            )
    with pytest.raises(NotFoundError) as missing:
        await autumn.entities.create(customer_id="new_cus", entity_id="seat_3", feature_id="nope")
    assert missing.value.code == "feature_not_found"


async def test_customer_expand_entities(autumn: AsyncAutumn) -> None:
    """expand=["entities"] lists the customer's entities."""
    await autumn.entities.create(customer_id="c1", entity_id="seat_1", feature_id="seats")
    plain = await autumn.customers.get(customer_id="c1")
    expanded = await autumn.customers.get(customer_id="c1", expand=["entities"])
    assert plain.entities is None
    assert expanded.entities is not None
    assert [e.id for e in expanded.entities] == ["seat_1"]


async def test_legacy_post_customers_still_gets_or_creates(fresh: Emulator) -> None:
    """POST /v1/customers keeps working, and its customer is the one customers.get reads."""
    import aiohttp

    headers = {"Authorization": f"Bearer {fresh.secret_key}", "x-api-version": "2.1"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{fresh.url}/v1/customers", json={"id": "legacy", "name": "L"}, headers=headers
        ) as response,
    ):
        assert response.status == 200
        assert (await response.json())["id"] == "legacy"
    async with AsyncAutumn(secret_key=fresh.secret_key, server_url=fresh.url) as autumn:
        assert (await autumn.customers.get(customer_id="legacy")).name == "L"


async def test_seeding_an_entity_balance_keeps_the_entity(
    fresh: Emulator, autumn: AsyncAutumn
) -> None:
    """An admin-seeded grant for an entity leaves its name and feature in place."""
    await autumn.entities.create(
        customer_id="c1", entity_id="seat_1", feature_id="seats", name="Seat one"
    )
    await fresh.add_balance(
        customer_id="c1", entity_id="seat_1", feature_id="messages", included_grant=3
    )
    entity = await autumn.entities.get(customer_id="c1", entity_id="seat_1")
    assert (entity.name, entity.feature_id) == ("Seat one", "seats")
    assert entity.balances["messages"].granted == 3


def test_cli_emulator_without_auto_create_needs_get_or_create_first(tmp_path: Path) -> None:
    """``python -m autumn_emulator`` without --auto-create-customers: 404, then get_or_create."""
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"features": [{"id": "messages"}]}))
    key = "am_sk_test_cli_customers"
    command = [sys.executable, "-m", "autumn_emulator", "--port", "0", "--secret-key", key]
    process = subprocess.Popen(
        [*command, "--seed-file", str(seed_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        with Autumn(secret_key=key, server_url=url, retry_config=None) as autumn:
            with pytest.raises(NotFoundError):
                autumn.balances.track(customer_id="new_user", feature_id="messages")
            autumn.customers.get_or_create(customer_id="new_user")
            autumn.balances.create(customer_id="new_user", feature_id="messages", included=3)
            assert autumn.balances.check(customer_id="new_user", feature_id="messages").allowed
            tracked = autumn.balances.track(customer_id="new_user", feature_id="messages")
            assert tracked.balance is not None
            assert tracked.balance.remaining == 2
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, err) == (0, "")
