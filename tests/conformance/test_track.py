"""balances.track through the SDK against the emulator: deductions of spec §9.3 and §9.5."""

from __future__ import annotations

import pytest

from autumn_async import AsyncAutumn, ConflictError, NotFoundError
from autumn_emulator import Emulator


async def test_track_value_defaults_to_one(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A track without value records and deducts 1, and echoes value 1."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    result = await autumn.balances.track(customer_id="c1", feature_id="messages")
    assert result.value == 1
    assert result.balance is not None
    assert (result.balance.remaining, result.balance.usage) == (9, 1)
    assert [e["value"] for e in emu.ledger()] == [1]


async def test_track_returns_the_affected_balance_and_deductions(autumn: AsyncAutumn) -> None:
    """A feature track returns the post-deduction balance and the row it touched."""
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=10, balance_id="grant_1"
    )
    result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=4)
    assert result.customer_id == "c1"
    assert result.balance is not None
    assert (result.balance.feature_id, result.balance.granted, result.balance.remaining) == (
        "messages",
        10,
        6,
    )
    assert result.deductions is not None
    assert [(d.balance_id, d.value) for d in result.deductions] == [("grant_1", 4)]


async def test_event_name_fans_out_to_every_listening_feature(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """A track by event_name deducts value from each feature that lists the event."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.create(customer_id="c1", feature_id="api_calls", included=100)
    await autumn.balances.create(customer_id="c1", feature_id="tokens", included=50)
    result = await autumn.balances.track(customer_id="c1", event_name="ai_request", value=3)
    assert result.event_name == "ai_request"
    assert result.balance is None  # several features were affected
    assert result.balances is not None
    assert {k: v.remaining for k, v in result.balances.items() if v is not None} == {
        "messages": 7,
        "api_calls": 97,
    }
    assert sorted(e["feature_id"] for e in emu.ledger()) == ["api_calls", "messages"]
    assert emu.balances("c1")["tokens"]["remaining"] == 50


async def test_unknown_event_name_is_not_found(autumn: AsyncAutumn) -> None:
    """A track by an event name no feature listens to is 404 invalid_request (today's server)."""
    with pytest.raises(NotFoundError) as info:
        await autumn.balances.track(customer_id="c1", event_name="nobody_listens")
    assert info.value.code == "invalid_request"
    assert "nobody_listens" in info.value.message


async def test_overage_is_capped_by_default(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A track larger than the balance succeeds and deducts only what fits (cap)."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=3)
    result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=5)
    assert result.value == 5  # the requested value, not what was deducted
    assert result.balance is not None
    assert (result.balance.remaining, result.balance.usage) == (0, 3)
    assert len(emu.ledger()) == 1


async def test_negative_track_refunds_up_to_the_grant(autumn: AsyncAutumn) -> None:
    """A negative value credits back, but never above the granted amount (usage not below 0)."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=100)
    await autumn.balances.track(customer_id="c1", feature_id="messages", value=30)
    partial = await autumn.balances.track(customer_id="c1", feature_id="messages", value=-10)
    assert partial.balance is not None
    assert partial.balance.remaining == 80
    capped = await autumn.balances.track(customer_id="c1", feature_id="messages", value=-50)
    assert capped.balance is not None
    assert (capped.balance.remaining, capped.balance.usage) == (100, 0)


async def test_deduction_order_prefers_resetting_then_shorter_interval(
    autumn: AsyncAutumn,
) -> None:
    """Rows that reset are drawn before one-time grants, shorter intervals first."""
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=5, balance_id="one_time"
    )
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=5, reset="month", balance_id="monthly"
    )
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=5, reset="day", balance_id="daily"
    )
    result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=12)
    assert result.deductions is not None
    assert [(d.balance_id, d.value) for d in result.deductions] == [
        ("daily", 5),
        ("monthly", 5),
        ("one_time", 2),
    ]


async def test_entity_track_draws_on_entity_rows_first(autumn: AsyncAutumn) -> None:
    """A track for an entity uses that entity's balance before the customer-level one."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", entity_id="seat_1", included=5
    )
    result = await autumn.balances.track(
        customer_id="c1", feature_id="messages", entity_id="seat_1", value=7
    )
    assert result.entity_id == "seat_1"
    assert result.balance is not None
    assert result.balance.remaining == 8  # entity row 5 -> 0, customer row 10 -> 8
    seat_2 = await autumn.balances.check(
        customer_id="c1", feature_id="messages", entity_id="seat_2"
    )
    assert seat_2.balance is not None
    assert seat_2.balance.remaining == 8  # seat_2 sees only the customer-level row


async def test_entity_balance_is_scoped_to_its_entity(autumn: AsyncAutumn) -> None:
    """A balance created for one entity is invisible from another entity."""
    await autumn.balances.create(
        customer_id="c1", feature_id="tokens", entity_id="seat_1", included=5
    )
    own = await autumn.balances.check(customer_id="c1", feature_id="tokens", entity_id="seat_1")
    other = await autumn.balances.check(customer_id="c1", feature_id="tokens", entity_id="seat_2")
    assert (own.allowed, own.entity_id) == (True, "seat_1")
    assert (other.allowed, other.balance) == (False, None)


async def test_reused_idempotency_key_is_a_conflict(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A caller reusing an idempotency_key gets ConflictError 409 and nothing is deducted twice."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    first = await autumn.balances.track(
        customer_id="c1", feature_id="messages", idempotency_key="order-42"
    )
    assert first.replayed is False
    with pytest.raises(ConflictError) as info:
        await autumn.balances.track(
            customer_id="c1", feature_id="messages", idempotency_key="order-42"
        )
    assert (info.value.status_code, info.value.code) == (409, "duplicate_idempotency_key")
    assert "track:order-42" in info.value.message
    assert [e["idempotency_key"] for e in emu.ledger()] == ["order-42"]
    assert emu.balances("c1")["messages"]["remaining"] == 9


async def test_idempotency_key_expires_after_24_hours(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A key reused after its 24 h time to live is accepted again."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.track(customer_id="c1", feature_id="messages", idempotency_key="k")
    emu.advance_time(24 * 3_600_000)
    again = await autumn.balances.track(
        customer_id="c1", feature_id="messages", idempotency_key="k"
    )
    assert again.balance is not None
    assert again.balance.remaining == 8


async def test_failed_track_releases_its_key(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A track refused with 404 frees its key, so the corrected retry goes through."""
    with pytest.raises(NotFoundError):
        await autumn.balances.track(customer_id="ghost", feature_id="messages", idempotency_key="x")
    await emu.add_customer("ghost")
    await autumn.balances.create(customer_id="ghost", feature_id="messages", included=1)
    result = await autumn.balances.track(
        customer_id="ghost", feature_id="messages", idempotency_key="x"
    )
    assert result.balance is not None
    assert result.balance.remaining == 0


async def test_sdk_tracks_without_a_key_never_collide(autumn: AsyncAutumn, emu: Emulator) -> None:
    """Each SDK track carries its own fresh key, so identical calls all count."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    for _ in range(3):
        await autumn.balances.track(customer_id="c1", feature_id="messages")
    keys = [e["idempotency_key"] for e in emu.ledger()]
    assert len(keys) == len(set(keys)) == 3
    assert all(keys)
