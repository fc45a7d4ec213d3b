"""Semantics and response shapes of spec §17.3-§17.6, through the SDK (issue 13 items 3, 4).

Each test names the server file it follows (``useautumn/autumn``).
"""

from __future__ import annotations

import pytest

from autumn_async import AsyncAutumn, BadRequestError, NotFoundError, UsageError
from autumn_emulator import Emulator

from .conftest import DAY, T0

# -- update (§17.3) ----------------------------------------------------------------------


async def test_included_grant_moves_the_grant_and_leaves_remaining(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """update(included_grant=) keeps remaining; usage absorbs the change.

    ``server/src/internal/balances/updateBalance/v2/updateIncludedGrantV2.ts``.
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=100)
    await autumn.balances.track(customer_id="c1", feature_id="messages", value=30)
    await autumn.balances.update(customer_id="c1", feature_id="messages", included_grant=50)
    balance = emu.balances("c1")["messages"]
    assert (balance["granted"], balance["remaining"], balance["usage"]) == (50, 70, -20)
    assert balance["breakdown"][0]["included_grant"] == 50


async def test_next_reset_at_moves_only_the_soonest_resetting_row(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """next_reset_at changes the row that resets first and leaves the others.

    ``server/src/internal/balances/updateBalance/v2/updateNextResetAtV2.ts``.
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5, reset="day")
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5, reset="month")
    await autumn.balances.update(
        customer_id="c1", feature_id="messages", next_reset_at=T0 + 3 * DAY
    )
    resets = sorted(
        row["reset"]["resets_at"] for row in emu.balances("c1")["messages"]["breakdown"]
    )
    assert T0 + 3 * DAY in resets
    assert T0 + DAY not in resets  # the daily row (the soonest) moved
    assert len(resets) == 2


async def test_next_reset_at_on_a_one_off_row_is_400(autumn: AsyncAutumn) -> None:
    """A lifetime (one-off) grant cannot get a next reset: 400 invalid_request.

    ``updateNextResetAtV2.ts`` (``EntInterval.Lifetime``).
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    with pytest.raises(BadRequestError) as info:
        await autumn.balances.update(
            customer_id="c1", feature_id="messages", next_reset_at=T0 + DAY
        )
    assert info.value.code == "invalid_request"
    assert "lifetime balance" in info.value.message


@pytest.mark.parametrize("field", ["next_reset_at", "expires_at"])
async def test_dates_on_a_feature_without_balances_are_404(autumn: AsyncAutumn, field: str) -> None:
    """next_reset_at / expires_at with no matching row: 404 (``updateExpiresAtV2.ts``)."""
    with pytest.raises(NotFoundError) as info:
        await autumn.balances.update(
            customer_id="c1",
            feature_id="messages",
            **{field: T0 + DAY},  # type: ignore[arg-type]
        )
    assert info.value.message == "No balances found for feature messages, customer c1"


async def test_expires_at_changes_only_the_soonest_expiring_row(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """expires_at goes on the row expiring first; rows that never expire come last.

    ``server/src/internal/balances/updateBalance/v2/updateExpiresAtV2.ts``.
    """
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=5, expires_at=T0 + 5 * DAY
    )
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=7)
    await autumn.balances.update(customer_id="c1", feature_id="messages", expires_at=T0 + DAY)
    rows = {row["included_grant"]: row for row in emu.balances("c1")["messages"]["breakdown"]}
    assert (rows[5]["expires_at"], rows[7]["expires_at"]) == (T0 + DAY, None)


async def test_expires_at_on_a_paid_recurring_row_is_400(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """A paid recurring balance follows its billing cycle: expires_at is 400.

    ``updateExpiresAtV2.ts`` (``isPaidCustomerEntitlement``).
    """
    await emu.add_balance(
        customer_id="c1", feature_id="messages", included_grant=10, interval="month",
        overage_allowed=True, price_amount=0.5,
    )  # fmt: skip
    with pytest.raises(BadRequestError) as info:
        await autumn.balances.update(customer_id="c1", feature_id="messages", expires_at=T0 + DAY)
    assert "paid recurring balance" in info.value.message


async def test_customer_entitlement_id_picks_the_row(autumn: AsyncAutumn, emu: Emulator) -> None:
    """customer_entitlement_id filters the rows an update touches.

    ``server/src/internal/balances/utils/buildCustomerEntitlementFilters.ts``.
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=7)
    second = emu.balances("c1")["messages"]["breakdown"][1]
    await autumn.balances.update(
        customer_id="c1",
        feature_id="messages",
        customer_entitlement_id=second["id"],
        included_grant=20,
    )
    grants = [row["included_grant"] for row in emu.balances("c1")["messages"]["breakdown"]]
    assert grants == [5, 20]


async def test_the_sdk_refuses_conflicting_pairs_the_server_would_accept(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """remaining with add_to_balance: the server lets remaining win; the SDK refuses first.

    ``server/src/internal/balances/handlers/handleUpdateBalance.ts`` (``.extend({})``
    drops the refinements) and ``runDeductionOnContextV2.lua``: the SDK stays stricter.
    """
    with pytest.raises(UsageError) as info:
        await autumn.balances.update(
            customer_id="c1", feature_id="messages", remaining=5, add_to_balance=1
        )
    assert info.value.field == "add_to_balance"
    assert emu.stats() == {}


# -- create (§17.4) ----------------------------------------------------------------------


async def test_create_keeps_next_reset_at_beside_expires_at(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """With both next_reset_at and expires_at the grant resets until it expires.

    ``server/src/internal/balances/createBalance/prepareNewBalanceForInsertion.ts``.
    """
    await autumn.balances.create(
        customer_id="c1",
        feature_id="messages",
        included=10,
        reset="day",
        next_reset_at=T0 + DAY // 2,
        expires_at=T0 + 10 * DAY,
    )
    balance = emu.balances("c1")["messages"]
    assert balance["next_reset_at"] == T0 + DAY // 2
    assert balance["breakdown"][0]["expires_at"] == T0 + 10 * DAY


async def test_credit_system_balance_without_an_amount_is_accepted(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """The "included_grant or unlimited" rule covers metered features only.

    ``shared/api/balances/create/createBalanceParams.ts``.
    """
    await emu.add_feature("credits", type="credit_system", credit_schema={"messages": 2})
    result = await autumn.balances.create(customer_id="c1", feature_id="credits")
    assert result.success is True
    assert emu.balances("c1")["credits"]["granted"] == 0


# -- check and track (§17.5) -------------------------------------------------------------


async def test_send_event_on_a_boolean_feature_is_400(autumn: AsyncAutumn) -> None:
    """check(send_event=True) on a flag is 400 invalid_request, granted or not.

    ``server/src/internal/balances/check/runCheckWithTrackV2.ts``.
    """
    with pytest.raises(BadRequestError) as info:
        await autumn.balances.check(customer_id="c1", feature_id="sso", send_event=True)
    assert info.value.code == "invalid_request"


@pytest.mark.parametrize(("required", "allowed"), [(0, True), (-1, True), (1, False)])
async def test_send_event_without_a_balance_depends_on_required_balance(
    autumn: AsyncAutumn, emu: Emulator, required: int, allowed: bool
) -> None:
    """No balance: required_balance <= 0 is allowed, > 0 is denied; nothing is recorded.

    ``runCheckWithTrackV2.ts`` (``buildNoEntitlementResponse`` only when required > 0).
    """
    result = await autumn.balances.check(
        customer_id="c1", feature_id="tokens", required_balance=required, send_event=True
    )
    assert (result.allowed, result.balance) == (allowed, None)


async def test_track_lists_every_related_feature_with_null_for_missing_credit_systems(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """balances holds the feature and each credit system over it, null where none is held.

    ``server/src/internal/balances/utils/deductionV2/deductionToBalancesResponseV2.ts``.
    """
    await emu.add_feature("credits", type="credit_system", credit_schema={"tokens": 1})
    await autumn.balances.create(customer_id="c1", feature_id="tokens", included=10)
    result = await autumn.balances.track(customer_id="c1", feature_id="tokens", value=2)
    assert result.balances is not None
    assert set(result.balances) == {"tokens", "credits"}
    assert result.balances["credits"] is None
    assert result.balance is not None
    assert result.balance.feature_id == "tokens"


async def test_event_name_over_two_held_features_answers_balance_null(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """An event touching two features that both have balances: balance null, even if one ran dry.

    ``server/src/internal/balances/utils/deductionV2/deductionToTrackResponseV2.ts``.
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.create(customer_id="c1", feature_id="api_calls", included=10)
    await autumn.balances.update(customer_id="c1", feature_id="api_calls", remaining=0)
    result = await autumn.balances.track(customer_id="c1", event_name="ai_request", value=1)
    assert result.balance is None
    assert result.balances is not None
    assert set(result.balances) == {"messages", "api_calls"}


# -- response shapes (§17.6) -------------------------------------------------------------


async def test_a_grant_that_never_resets_reports_one_off(autumn: AsyncAutumn) -> None:
    """reset is {"interval": "one_off", "resets_at": null}, never null, for a one-time grant.

    ``shared/utils/cusEntUtils/balanceUtils/cusEntsToReset.ts``.
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert result.balance is not None
    assert result.balance.breakdown is not None
    reset = result.balance.breakdown[0].reset
    assert reset is not None
    assert (reset.interval, reset.interval_count, reset.resets_at) == ("one_off", None, None)


async def test_breakdown_remaining_is_clamped_while_usage_goes_negative(
    autumn: AsyncAutumn,
) -> None:
    """remaining set above the grant: usage -20; overdrawn: remaining 0, never negative.

    ``cusEntsToCurrentBalance.ts`` (clamp) and ``cusEntsToUsage.ts`` (no clamp).
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=100)
    await autumn.balances.update(customer_id="c1", feature_id="messages", remaining=120)
    above = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert above.balance is not None
    assert above.balance.breakdown is not None
    assert (above.balance.usage, above.balance.breakdown[0].usage) == (-20, -20)
    await autumn.balances.update(customer_id="c1", feature_id="messages", remaining=-5)
    below = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert below.balance is not None
    assert below.balance.breakdown is not None
    assert (below.balance.remaining, below.balance.breakdown[0].remaining) == (0, 0)


async def test_an_unlimited_balance_has_one_synthetic_breakdown_row(
    autumn: AsyncAutumn,
) -> None:
    """Unlimited: granted/remaining 0 and a single row marked unlimited, reset null.

    ``shared/api/customers/cusFeatures/utils/apiBalanceUtils.ts`` (``getUnlimitedApiBalance``).
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", unlimited=True)
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert result.balance is not None
    assert (result.balance.unlimited, result.balance.granted, result.balance.remaining) == (
        True,
        0,
        0,
    )
    assert result.balance.breakdown is not None
    assert len(result.balance.breakdown) == 1
    row = result.balance.breakdown[0]
    assert (row.unlimited, row.reset, row.price, row.expires_at) == (True, None, None, None)
