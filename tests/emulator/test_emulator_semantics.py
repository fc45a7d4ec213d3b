"""Server semantics of spec §9 reproduced by the emulator: check, track, create, update."""

from __future__ import annotations

from emulator_support import Api, FakeClock, grant

from autumn_emulator import Emulator

DAY = 86_400_000


# -- check: the order of rules (§9.1) --------------------------------------------------------


async def test_check_without_balance_is_denied_with_null_balance(api: Api) -> None:
    """No grant for the feature means allowed=false and balance null."""
    reply = await api.check(feature_id="messages")
    assert reply.json == {
        "allowed": False,
        "customer_id": "c1",
        "required_balance": 1,
        "balance": None,
        "flag": None,
    }


async def test_check_boolean_feature_answers_with_a_flag(api: Api) -> None:
    """A boolean grant allows, with balance null and a flag object."""
    assert (await api.create(feature_id="dashboard")).status == 200
    reply = await api.check(feature_id="dashboard")
    assert reply.json["allowed"] is True
    assert reply.json["balance"] is None
    assert reply.json["flag"]["feature_id"] == "dashboard"
    assert set(reply.json["flag"]) == {"id", "plan_id", "expires_at", "feature_id"}


async def test_check_unlimited_allows_any_amount(api: Api) -> None:
    """An unlimited grant allows whatever is required."""
    assert (await api.create(feature_id="messages", unlimited=True)).status == 200
    reply = await api.check(feature_id="messages", required_balance=10**9)
    assert reply.json["allowed"] is True
    assert reply.json["balance"]["unlimited"] is True


async def test_check_negative_required_balance_is_allowed(api: Api) -> None:
    """A negative required_balance is always allowed when a balance exists."""
    await grant(api, amount=0)
    reply = await api.check(feature_id="messages", required_balance=-5)
    assert reply.json["allowed"] is True


async def test_check_overage_is_allowed_up_to_max_purchase(api: Api, emu: Emulator) -> None:
    """With overage allowed, remaining plus the unused max_purchase must cover the amount."""
    await emu.add_balance(
        customer_id="c1",
        feature_id="messages",
        included_grant=10,
        overage_allowed=True,
        max_purchase=5,
        price_amount=0.5,
    )
    assert (await api.check(feature_id="messages", required_balance=15)).json["allowed"]
    assert not (await api.check(feature_id="messages", required_balance=16)).json["allowed"]
    balance = (await api.check(feature_id="messages")).json["balance"]
    assert (balance["overage_allowed"], balance["max_purchase"]) == (True, 5)


async def test_check_compares_remaining_with_required_default_1(api: Api) -> None:
    """Without overage, allowed means remaining >= required_balance (default 1)."""
    await grant(api, amount=1)
    reply = await api.check(feature_id="messages")
    assert (reply.json["allowed"], reply.json["required_balance"]) == (True, 1)
    assert not (await api.check(feature_id="messages", required_balance=2)).json["allowed"]


async def test_check_send_event_deducts_atomically(api: Api, emu: Emulator) -> None:
    """send_event deducts the required amount when it fits and records the event."""
    await grant(api, amount=10)
    reply = await api.check(feature_id="messages", required_balance=4, send_event=True)
    assert reply.json["allowed"] is True
    assert reply.json["balance"]["remaining"] == 6
    assert [e["value"] for e in emu.ledger()] == [4]


async def test_check_send_event_swallows_insufficient_balance(api: Api, emu: Emulator) -> None:
    """send_event that does not fit answers allowed=false and deducts nothing."""
    await grant(api, amount=3)
    reply = await api.check(feature_id="messages", required_balance=4, send_event=True)
    assert reply.status == 200
    assert reply.json["allowed"] is False
    assert reply.json["balance"]["remaining"] == 3
    assert emu.ledger() == []


async def test_check_with_preview_when_denied(api: Api) -> None:
    """with_preview adds a Preview when denied and null when allowed."""
    await grant(api, amount=2)
    denied = await api.check(feature_id="messages", required_balance=5, with_preview=True)
    preview = denied.json["preview"]
    assert preview["scenario"] == "usage_limit"
    assert (preview["feature_id"], preview["feature_name"]) == ("messages", "Messages")
    assert {"title", "message", "products"} <= set(preview)
    allowed = await api.check(feature_id="messages", with_preview=True)
    assert allowed.json["preview"] is None
    assert "preview" not in (await api.check(feature_id="messages")).json


async def test_check_uses_credit_system_with_converted_amount(api: Api, emu: Emulator) -> None:
    """A feature paid in credits is checked against the credit system, in credits."""
    await emu.add_feature("credits", type="credit_system", credit_schema={"messages": 2})
    await grant(api, feature_id="credits", amount=10)
    reply = await api.check(feature_id="messages", required_balance=5)
    assert reply.json["allowed"] is True
    assert reply.json["required_balance"] == 10
    assert reply.json["balance"]["feature_id"] == "credits"


# -- track (§9.3) ----------------------------------------------------------------------------


async def test_track_deducts_value_default_1(api: Api) -> None:
    """Track deducts 1 by default and echoes the requested value."""
    await grant(api)
    reply = await api.track(feature_id="messages")
    assert reply.json["value"] == 1
    assert reply.json["balance"]["remaining"] == 99
    assert reply.json["deductions"][0]["value"] == 1


async def test_track_response_matches_example_shape(api: Api) -> None:
    """The track response and its Balance carry the example file's keys."""
    await grant(api, reset={"interval": "month"})
    body = (await api.track(feature_id="messages", value=3)).json
    assert set(body) == {"customer_id", "value", "balance", "deductions"}
    assert set(body["balance"]) == {
        "feature_id",
        "granted",
        "remaining",
        "usage",
        "unlimited",
        "overage_allowed",
        "max_purchase",
        "next_reset_at",
        "breakdown",
    }
    assert set(body["balance"]["breakdown"][0]) == {
        "id",
        "plan_id",
        "included_grant",
        "prepaid_grant",
        "remaining",
        "usage",
        "unlimited",
        "reset",
        "price",
        "expires_at",
    }


async def test_track_caps_by_default(api: Api, emu: Emulator) -> None:
    """What does not fit is not deducted, without error; the event keeps the full value."""
    await grant(api, amount=5)
    reply = await api.track(feature_id="messages", value=8)
    assert reply.status == 200
    assert (reply.json["balance"]["remaining"], reply.json["balance"]["usage"]) == (0, 5)
    assert emu.ledger()[0]["value"] == 8


async def test_track_reject_is_400_insufficient_balance(api: Api) -> None:
    """overage_behavior reject that does not fit is 400 insufficient_balance."""
    await grant(api, amount=5)
    reply = await api.track(feature_id="messages", value=8, overage_behavior="reject")
    assert (reply.status, reply.json["code"]) == (400, "insufficient_balance")


async def test_track_negative_value_refunds_up_to_the_grant(api: Api) -> None:
    """Negative values credit back, never above the granted amount."""
    await grant(api)
    await api.track(feature_id="messages", value=30)
    reply = await api.track(feature_id="messages", value=-10)
    assert reply.json["balance"]["remaining"] == 80
    reply = await api.track(feature_id="messages", value=-50)
    assert (reply.json["balance"]["remaining"], reply.json["balance"]["usage"]) == (100, 0)


async def test_track_event_name_fans_out_to_every_feature(api: Api, emu: Emulator) -> None:
    """An event name deducts each listing feature and answers balances with balance null."""
    await grant(api)
    assert (await api.create(feature_id="api_calls", unlimited=True)).status == 200
    reply = await api.track(event_name="ai_request")
    assert reply.json["event_name"] == "ai_request"
    assert reply.json["balance"] is None
    assert reply.json["balances"]["messages"]["remaining"] == 99
    assert reply.json["balances"]["api_calls"]["usage"] == 1
    assert [e["feature_id"] for e in emu.ledger()] == ["messages", "api_calls"]


async def test_track_decimals_do_not_drift(api: Api) -> None:
    """0.1 + 0.2 of usage is exactly 0.3."""
    await grant(api, amount=1)
    await api.track(feature_id="messages", value=0.1)
    reply = await api.track(feature_id="messages", value=0.2)
    assert reply.json["balance"]["usage"] == 0.3
    assert reply.json["balance"]["remaining"] == 0.7


async def test_track_spills_into_credit_system(api: Api, emu: Emulator) -> None:
    """Usage past the feature's own grant is paid from a credit system at its cost."""
    await emu.add_feature("credits", type="credit_system", credit_schema={"messages": 0.5})
    await grant(api, amount=2)
    await grant(api, feature_id="credits", amount=10)
    reply = await api.track(feature_id="messages", value=4)
    assert reply.json["balances"]["messages"]["remaining"] == 0
    assert reply.json["balances"]["credits"]["remaining"] == 9


# -- entities ----------------------------------------------------------------------------------


async def test_entity_rows_are_used_first_and_customer_rows_are_visible(api: Api) -> None:
    """From an entity, its own grant is deducted first, then the customer-level one."""
    await grant(api, amount=10)
    await grant(api, amount=3, entity_id="seat_1")
    reply = await api.track(feature_id="messages", entity_id="seat_1", value=5)
    breakdown = reply.json["balance"]["breakdown"]
    assert [(b["remaining"], b["usage"]) for b in breakdown] == [(0, 3), (8, 2)]
    other = await api.check(feature_id="messages", entity_id="seat_2")
    assert other.json["balance"]["remaining"] == 8
    assert other.json["entity_id"] == "seat_2"


# -- create and update (§2, §3) ----------------------------------------------------------------


async def test_create_reads_granted_balance_and_included_grant(api: Api, emu: Emulator) -> None:
    """Both granted_balance and included_grant set the grant."""
    await grant(api, amount=7)
    assert (await api.create(feature_id="messages", included_grant=5)).status == 200
    assert emu.balances("c1")["messages"]["granted"] == 12


async def test_create_ignores_included_so_metered_create_fails(api: Api) -> None:
    """`included` is not read any more, so a metered create with only it is 500 invalid_inputs."""
    reply = await api.create(feature_id="messages", included=5)
    assert (reply.status, reply.json["code"]) == (500, "invalid_inputs")


async def test_create_refinements_are_500_invalid_inputs(api: Api) -> None:
    """Rule violations found inside the handler surface as 500 invalid_inputs."""
    bad = [
        {"feature_id": "messages"},
        {"feature_id": "messages", "granted_balance": 5, "unlimited": True},
        {"feature_id": "messages", "unlimited": True, "reset": {"interval": "month"}},
        {"feature_id": "dashboard", "granted_balance": 1},
    ]
    for body in bad:
        reply = await api.create(**body)
        assert (reply.status, reply.json["code"]) == (500, "invalid_inputs"), body


async def test_create_never_creates_the_customer(api: Api) -> None:
    """balances.create for an unknown customer is 404 customer_not_found."""
    reply = await api.create(customer_id="ghost", feature_id="messages", granted_balance=1)
    assert (reply.status, reply.json["code"]) == (404, "customer_not_found")


async def test_create_duplicate_boolean_grant_is_409(api: Api) -> None:
    """A second boolean grant for the same customer is 409 invalid_request."""
    assert (await api.create(feature_id="dashboard")).status == 200
    reply = await api.create(feature_id="dashboard")
    assert (reply.status, reply.json["code"]) == (409, "invalid_request")


async def test_update_current_balance_sets_remaining(api: Api, emu: Emulator) -> None:
    """current_balance (alias of remaining) sets what is left."""
    await grant(api)
    assert (await api.update(feature_id="messages", current_balance=40)).status == 200
    assert emu.balances("c1")["messages"]["remaining"] == 40
    assert (await api.update(feature_id="messages", remaining=55)).status == 200
    assert emu.balances("c1")["messages"]["remaining"] == 55


async def test_update_add_to_balance_adds_past_the_grant(api: Api, emu: Emulator) -> None:
    """add_to_balance adds to remaining, even above the grant."""
    await grant(api, amount=10)
    assert (await api.update(feature_id="messages", add_to_balance=5)).status == 200
    assert emu.balances("c1")["messages"]["remaining"] == 15


async def test_update_included_grant_and_usage(api: Api, emu: Emulator) -> None:
    """usage is set first, then included_grant moves the grant and leaves the balance.

    ``server/src/internal/balances/updateBalance/v2/updateBalanceV2.ts`` runs usage before
    included_grant; ``updateIncludedGrantV2.ts`` sets an adjustment, so the balance (-10,
    shown as 0) stays and usage absorbs the 40 added to the grant.
    """
    await grant(api, amount=10)
    assert (await api.update(feature_id="messages", included_grant=50, usage=20)).status == 200
    balance = emu.balances("c1")["messages"]
    assert (balance["granted"], balance["usage"], balance["remaining"]) == (50, 60, 0)


async def test_update_included_grant_without_balances_is_404(api: Api) -> None:
    """included_grant on a feature the customer has no grant of is 404 invalid_request."""
    reply = await api.update(feature_id="messages", included_grant=5)
    assert (reply.status, reply.json["code"]) == (404, "invalid_request")


# -- resets and expiry (§9.4) --------------------------------------------------------------------


async def test_reset_interval_sets_next_reset_and_resets_lazily(
    api: Api, emu: Emulator, clock: FakeClock
) -> None:
    """A daily grant resets its usage once the clock passes next_reset_at, which advances."""
    await grant(api, amount=10, reset={"interval": "day"})
    first_reset = emu.balances("c1")["messages"]["next_reset_at"]
    assert first_reset == clock.now + DAY
    await api.track(feature_id="messages", value=4)
    clock.now += DAY
    balance = (await api.check(feature_id="messages")).json["balance"]
    assert (balance["remaining"], balance["next_reset_at"]) == (10, first_reset + DAY)


async def test_monthly_reset_follows_the_calendar(api: Api, emu: Emulator) -> None:
    """A monthly reset lands on the same day of the next month."""
    await grant(api, reset={"interval": "month"})
    # T0 is 2026-03-08T... UTC, so the next reset is 31 days later.
    assert emu.balances("c1")["messages"]["next_reset_at"] - emu.state.now() == 31 * DAY


async def test_expired_grants_do_not_count(api: Api, clock: FakeClock) -> None:
    """A grant past its expires_at is left out, and expiry clears next_reset_at."""
    await grant(api, amount=5, expires_at=clock.now + 1000, reset={"interval": "day"})
    balance = (await api.check(feature_id="messages")).json["balance"]
    assert balance["next_reset_at"] is None
    clock.now += 1000
    reply = await api.check(feature_id="messages")
    assert (reply.json["allowed"], reply.json["balance"]) == (False, None)
