"""balances.create and .update through the SDK: grants, resets, expiry (spec §2, §3, §9.4)."""

from __future__ import annotations

import datetime

import pytest

from autumn_async import AsyncAutumn, ConflictError
from autumn_emulator import Emulator

from .conftest import DAY, HOUR, T0


def utc_ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    """Unix milliseconds of a UTC date and time."""
    moment = datetime.datetime(year, month, day, hour, minute, tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


async def test_included_reaches_the_server_as_granted_balance(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """``included`` is honoured (sent as granted_balance, which every server reads; spec §8)."""
    result = await autumn.balances.create(customer_id="c1", feature_id="messages", included=50)
    assert (result.success, result.replayed) == (True, False)
    balance = emu.balances("c1")["messages"]
    assert (balance["granted"], balance["remaining"]) == (50, 50)
    check = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=50
    )
    assert check.allowed is True


async def test_included_grant_is_also_honoured(autumn: AsyncAutumn, emu: Emulator) -> None:
    """``included_grant`` (today's wire name) grants the amount too."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included_grant=7)
    assert emu.balances("c1")["messages"]["granted"] == 7


async def test_create_without_reset_never_resets(autumn: AsyncAutumn) -> None:
    """A grant without reset is one-time: no next_reset_at, and time does not restore it."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5)
    result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=5)
    assert result.balance is not None
    assert result.balance.next_reset_at is None


async def test_monthly_reset_sets_next_reset_at_and_restores_the_balance(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """A monthly grant resets one calendar month after creation and again a month later."""
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=10, reset="month"
    )
    used = await autumn.balances.track(customer_id="c1", feature_id="messages", value=6)
    assert used.balance is not None
    first_reset = utc_ms(2026, 4, 8, 20, 0)  # T0 is 2026-03-08T20:00:00Z
    assert used.balance.next_reset_at == first_reset
    assert used.balance.breakdown is not None
    reset = used.balance.breakdown[0].reset
    assert reset is not None
    assert (reset.interval, reset.resets_at) == ("month", first_reset)
    emu.advance_time(first_reset - T0 - 1)
    before = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert before.balance is not None
    assert before.balance.remaining == 4
    emu.advance_time(1)
    after = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert after.balance is not None
    assert (after.balance.remaining, after.balance.usage) == (10, 0)
    assert after.balance.next_reset_at == utc_ms(2026, 5, 8, 20, 0)


@pytest.mark.parametrize(
    ("reset", "period_ms"),
    [
        ("minute", 60_000),
        ("hour", HOUR),
        ("day", DAY),
        ("week", 7 * DAY),
        ({"interval": "day", "interval_count": 3}, 3 * DAY),
    ],
)
async def test_fixed_intervals_reset_after_their_period(
    autumn: AsyncAutumn, emu: Emulator, reset: object, period_ms: int
) -> None:
    """Fixed-length intervals (and interval_count) put next_reset_at exactly one period ahead."""
    await autumn.balances.create(
        customer_id="c1",
        feature_id="messages",
        included=2,
        reset=reset,  # type: ignore[arg-type]
    )
    used = await autumn.balances.track(customer_id="c1", feature_id="messages", value=2)
    assert used.balance is not None
    assert used.balance.next_reset_at == T0 + period_ms
    emu.advance_time(period_ms)
    later = await autumn.balances.check(customer_id="c1", feature_id="messages", required_balance=2)
    assert later.allowed is True
    assert later.balance is not None
    assert later.balance.next_reset_at == T0 + 2 * period_ms


async def test_resets_skip_missed_periods(autumn: AsyncAutumn, emu: Emulator) -> None:
    """After several idle periods the next reset is the first boundary still ahead."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=2, reset="day")
    emu.advance_time(3 * DAY + HOUR)
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert result.balance is not None
    assert result.balance.next_reset_at == T0 + 4 * DAY


async def test_expires_at_ends_the_grant_and_clears_resets(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """An expiring grant has no next reset and stops counting once expires_at is reached."""
    expires = T0 + 2 * HOUR
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=5, reset="day", expires_at=expires
    )
    live = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert live.allowed is True
    assert live.balance is not None
    assert live.balance.next_reset_at is None
    assert live.balance.breakdown is not None
    assert live.balance.breakdown[0].expires_at == expires
    emu.advance_time(2 * HOUR)
    gone = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (gone.allowed, gone.balance) == (False, None)


async def test_expires_at_accepts_an_aware_datetime(autumn: AsyncAutumn, emu: Emulator) -> None:
    """An aware datetime for expires_at reaches the server as Unix milliseconds."""
    when = datetime.datetime.fromtimestamp((T0 + DAY) / 1000, tz=datetime.timezone.utc)
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=1, expires_at=when
    )
    assert emu.balances("c1")["messages"]["breakdown"][0]["expires_at"] == T0 + DAY


async def test_next_reset_at_picks_the_first_boundary(autumn: AsyncAutumn) -> None:
    """next_reset_at on create sets the first reset of a recurring grant (today's server)."""
    await autumn.balances.create(
        customer_id="c1",
        feature_id="messages",
        included=1,
        reset="month",
        next_reset_at=T0 + HOUR,
    )
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert result.balance is not None
    assert result.balance.next_reset_at == T0 + HOUR


async def test_unlimited_grant(autumn: AsyncAutumn, emu: Emulator) -> None:
    """An unlimited grant renders unlimited and absorbs any track."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", unlimited=True)
    result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=1e6)
    assert result.balance is not None
    assert result.balance.unlimited is True
    assert len(emu.ledger()) == 1


async def test_boolean_grant_twice_is_a_conflict(autumn: AsyncAutumn) -> None:
    """Granting a boolean feature the customer already has is 409 invalid_request."""
    await autumn.balances.create(customer_id="c1", feature_id="sso")
    with pytest.raises(ConflictError) as info:
        await autumn.balances.create(customer_id="c1", feature_id="sso")
    assert (info.value.status_code, info.value.code) == (409, "invalid_request")


async def test_duplicate_balance_id_is_a_conflict(autumn: AsyncAutumn) -> None:
    """A second create with the same balance_id for the customer is 409 invalid_request."""
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=1, balance_id="b1"
    )
    with pytest.raises(ConflictError) as info:
        await autumn.balances.create(
            customer_id="c1", feature_id="messages", included=1, balance_id="b1"
        )
    assert info.value.code == "invalid_request"


async def test_entity_grant_is_stored_for_the_entity(autumn: AsyncAutumn, emu: Emulator) -> None:
    """create with entity_id scopes the balance to that entity."""
    await autumn.balances.create(
        customer_id="c1", feature_id="tokens", entity_id="seat_2", included=4
    )
    assert emu.balances("c1", "seat_2")["tokens"]["remaining"] == 4
    assert "tokens" not in emu.balances("c1", "seat_1")


# -- update ---------------------------------------------------------------------------


async def test_update_current_balance_sets_remaining(autumn: AsyncAutumn, emu: Emulator) -> None:
    """current_balance sets what remains to exactly that number, the grant unchanged."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.track(customer_id="c1", feature_id="messages", value=4)
    result = await autumn.balances.update(
        customer_id="c1", feature_id="messages", current_balance=8
    )
    assert result.success is True
    balance = emu.balances("c1")["messages"]
    assert (balance["granted"], balance["remaining"], balance["usage"]) == (10, 8, 2)


async def test_update_current_balance_may_exceed_the_grant(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """Setting current_balance above the grant is applied as is (overage allowed on update)."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.update(customer_id="c1", feature_id="messages", current_balance=15)
    check = await autumn.balances.check(
        customer_id="c1", feature_id="messages", required_balance=15
    )
    assert check.allowed is True
    assert emu.balances("c1")["messages"]["remaining"] == 15


async def test_update_remaining_is_current_balance(autumn: AsyncAutumn, emu: Emulator) -> None:
    """``remaining`` is today's name for current_balance and sets the same thing."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.update(customer_id="c1", feature_id="messages", remaining=3)
    assert emu.balances("c1")["messages"]["remaining"] == 3


async def test_update_add_to_balance_adds_and_subtracts(autumn: AsyncAutumn, emu: Emulator) -> None:
    """add_to_balance adds to what remains; a negative amount subtracts, even below zero.

    Below zero the breakdown's remaining is clamped at 0 and usage passes the grant
    (``shared/utils/cusEntUtils/balanceUtils/cusEntsToCurrentBalance.ts``, spec §17.6).
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.update(customer_id="c1", feature_id="messages", add_to_balance=5)
    assert emu.balances("c1")["messages"]["remaining"] == 15
    await autumn.balances.update(customer_id="c1", feature_id="messages", add_to_balance=-20)
    check = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert check.allowed is False
    assert check.balance is not None
    assert check.balance.breakdown is not None
    assert (check.balance.breakdown[0].remaining, check.balance.breakdown[0].usage) == (0, 15)


async def test_update_granted_balance_changes_the_grant(autumn: AsyncAutumn, emu: Emulator) -> None:
    """granted_balance on update reaches today's server as included_grant and changes the grant.

    The grant moves through an adjustment and the balance is left alone: remaining stays
    6 and usage absorbs the difference
    (``server/src/internal/balances/updateBalance/v2/updateIncludedGrantV2.ts``, §17.3).
    """
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.track(customer_id="c1", feature_id="messages", value=4)
    await autumn.balances.update(customer_id="c1", feature_id="messages", granted_balance=20)
    balance = emu.balances("c1")["messages"]
    assert (balance["granted"], balance["usage"], balance["remaining"]) == (20, 14, 6)


async def test_update_interval_filters_which_balance_changes(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """``interval`` restricts update to the balances that reset on that interval."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10, reset="day")
    await autumn.balances.create(
        customer_id="c1", feature_id="messages", included=100, reset="month"
    )
    await autumn.balances.update(
        customer_id="c1", feature_id="messages", interval="month", current_balance=50
    )
    rows = {
        row["reset"]["interval"]: row["remaining"]
        for row in emu.balances("c1")["messages"]["breakdown"]
    }
    assert rows == {"day": 10, "month": 50}


async def test_update_for_an_entity(autumn: AsyncAutumn, emu: Emulator) -> None:
    """update with entity_id changes the entity's balance."""
    await autumn.balances.create(
        customer_id="c1", feature_id="tokens", entity_id="seat_1", included=10
    )
    await autumn.balances.update(
        customer_id="c1", feature_id="tokens", entity_id="seat_1", add_to_balance=-3
    )
    assert emu.balances("c1", "seat_1")["tokens"]["remaining"] == 7


async def test_update_next_reset_at_moves_the_reset(autumn: AsyncAutumn, emu: Emulator) -> None:
    """next_reset_at on update moves the reset of the matching recurring balances."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=5, reset="month")
    await autumn.balances.track(customer_id="c1", feature_id="messages", value=5)
    await autumn.balances.update(
        customer_id="c1", feature_id="messages", interval="month", next_reset_at=T0 + HOUR
    )
    emu.advance_time(HOUR)
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert result.balance is not None
    assert result.balance.remaining == 5
