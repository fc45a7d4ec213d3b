"""balances.check through the SDK against the emulator: the order of rules of spec §9.1-§9.2."""

from __future__ import annotations

import asyncio

import pytest

from autumn_async import AsyncAutumn, BadRequestError
from autumn_emulator import Emulator


async def test_no_balance_denies_with_a_null_balance(autumn: AsyncAutumn) -> None:
    """A customer without a balance for the feature is denied and gets no balance (§9.1.4)."""
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (result.allowed, result.balance, result.flag) == (False, None, None)


async def test_boolean_feature_is_allowed_with_a_flag(autumn: AsyncAutumn) -> None:
    """A boolean feature the customer holds is allowed and comes back as a flag, not a balance."""
    await autumn.balances.create(customer_id="c1", feature_id="sso")
    result = await autumn.balances.check(customer_id="c1", feature_id="sso", required_balance=99)
    assert result.allowed is True
    assert result.balance is None
    assert result.flag is not None
    assert result.flag.feature_id == "sso"


async def test_unlimited_allows_any_amount(autumn: AsyncAutumn) -> None:
    """An unlimited balance allows any required amount (§9.1.5, second rule)."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", unlimited=True)
    result = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=1e9
    )
    assert result.allowed is True
    assert result.balance is not None
    assert result.balance.unlimited is True


async def test_negative_required_balance_is_allowed_even_when_empty(autumn: AsyncAutumn) -> None:
    """A negative required_balance is allowed although nothing remains (§9.1.5, third rule)."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=0)
    empty = await autumn.balances.check(customer_id="c1", feature_id="messages")
    negative = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=-5
    )
    assert (empty.allowed, negative.allowed) == (False, True)


async def test_overage_is_allowed_up_to_max_purchase(autumn: AsyncAutumn, emu: Emulator) -> None:
    """With usage-based overage, remaining plus max_purchase minus current overage must cover it."""
    await emu.add_balance(
        customer_id="c1",
        feature_id="messages",
        included_grant=10,
        overage_allowed=True,
        max_purchase=5,
        price_amount=0.01,
    )
    fits = await autumn.balances.check(customer_id="c1", feature_id="messages", required_balance=15)
    over = await autumn.balances.check(customer_id="c1", feature_id="messages", required_balance=16)
    assert (fits.allowed, over.allowed) == (True, False)
    await autumn.balances.track(customer_id="c1", feature_id="messages", value=13)
    # remaining 0, overage 3 of 5 used: 2 more fit, 3 do not.
    two = await autumn.balances.check(customer_id="c1", feature_id="messages", required_balance=2)
    three = await autumn.balances.check(customer_id="c1", feature_id="messages", required_balance=3)
    assert (two.allowed, three.allowed) == (True, False)
    assert two.balance is not None
    assert (two.balance.overage_allowed, two.balance.max_purchase) == (True, 5)


async def test_overage_without_max_purchase_is_unbounded(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """A usage-based overage row with no max_purchase allows any amount."""
    await emu.add_balance(
        customer_id="c1", feature_id="messages", included_grant=1, overage_allowed=True
    )
    result = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=1_000_000
    )
    assert result.allowed is True


async def test_remaining_must_cover_required(autumn: AsyncAutumn) -> None:
    """Without overage, allowed means remaining >= required_balance, in decimal arithmetic."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=0.3)
    await autumn.balances.track(customer_id="c1", feature_id="messages", value=0.1)
    exact = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=0.2
    )
    above = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=0.21
    )
    assert exact.allowed is True  # in floats 0.3 - 0.1 is 0.19999999999999998
    assert above.allowed is False
    assert exact.balance is not None
    assert exact.balance.remaining == 0.2


async def test_required_balance_defaults_to_one(autumn: AsyncAutumn) -> None:
    """Without required_balance the check asks for 1 unit and echoes 1."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=1)
    one_left = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (one_left.allowed, one_left.required_balance) == (True, 1)
    await autumn.balances.track(customer_id="c1", feature_id="messages")
    none_left = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (none_left.allowed, none_left.required_balance) == (False, 1)


async def test_check_without_send_event_deducts_nothing(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A plain check is read-only: no event and no change to the balance."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    for _ in range(3):
        await autumn.balances.check(customer_id="c1", feature_id="messages", required_balance=2)
    assert emu.ledger() == []
    assert emu.balances("c1")["messages"]["remaining"] == 5


async def test_send_event_checks_and_deducts_atomically(autumn: AsyncAutumn, emu: Emulator) -> None:
    """send_event=True deducts required_balance when it fits and returns the new balance (§9.2)."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    result = await autumn.balances.check(
        customer_id="c1",
        feature_id="messages",
        required_balance=3,
        send_event=True,
        properties={"model": "small"},
    )
    assert result.allowed is True
    assert result.balance is not None
    assert (result.balance.remaining, result.balance.usage) == (2, 3)
    [event] = emu.ledger()
    assert (event["feature_id"], event["value"], event["properties"]) == (
        "messages",
        3,
        {"model": "small"},
    )


async def test_send_event_denied_deducts_nothing(autumn: AsyncAutumn, emu: Emulator) -> None:
    """send_event=True that does not fit is denied and deducts nothing (overage 'reject')."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=2)
    result = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=3, send_event=True
    )
    assert result.allowed is False
    assert result.balance is not None
    assert (result.balance.remaining, result.balance.usage) == (2, 0)
    assert emu.ledger() == []


async def test_send_event_races_never_overdraw(autumn: AsyncAutumn, emu: Emulator) -> None:
    """Concurrent check-and-deduct calls are allowed exactly as often as the balance covers."""

    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    results = await asyncio.gather(
        *(
            autumn.balances.check(
                customer_id="c1", feature_id="messages", required_balance=3, send_event=True
            )
            for _ in range(8)
        )
    )
    assert sum(r.allowed for r in results) == 3
    assert len(emu.ledger()) == 3
    assert emu.balances("c1")["messages"]["remaining"] == 1


async def test_send_event_on_boolean_feature_is_bad_request(autumn: AsyncAutumn) -> None:
    """send_event on a boolean feature is 400 invalid_request (today's server)."""
    await autumn.balances.create(customer_id="c1", feature_id="sso")
    with pytest.raises(BadRequestError) as info:
        await autumn.balances.check(customer_id="c1", feature_id="sso", send_event=True)
    assert (info.value.status_code, info.value.code) == (400, "invalid_request")


async def test_preview_only_when_denied(autumn: AsyncAutumn) -> None:
    """with_preview adds a usage_limit preview when denied and an explicit null when allowed."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=1)
    allowed = await autumn.balances.check(
        customer_id="c1", feature_id="messages", with_preview=True
    )
    denied = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=2, with_preview=True
    )
    assert (allowed.allowed, allowed.preview) == (True, None)
    assert denied.allowed is False
    assert denied.preview is not None
    assert (denied.preview.scenario, denied.preview.feature_id) == ("usage_limit", "messages")
    assert denied.preview.feature_name == "Messages"
    assert denied.preview.title
    assert denied.preview.message


async def test_preview_without_any_balance_is_a_feature_flag_scenario(autumn: AsyncAutumn) -> None:
    """A denied check for a feature the customer lacks previews the feature_flag scenario."""
    denied = await autumn.balances.check(customer_id="c1", feature_id="tokens", with_preview=True)
    assert denied.allowed is False
    assert denied.preview is not None
    assert denied.preview.scenario == "feature_flag"


async def test_denied_send_event_with_preview(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A denied check-and-deduct with with_preview carries the preview and records nothing."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=1)
    result = await autumn.balances.check(
        customer_id="c1",
        feature_id="messages",
        required_balance=5,
        send_event=True,
        with_preview=True,
    )
    assert result.allowed is False
    assert result.preview is not None
    assert result.preview.scenario == "usage_limit"
    assert emu.ledger() == []
