"""The API reference's bare examples against the server's rules (issue 13 item 10).

``create(feature_id, customer_id)`` without an amount is refused by the server's create
refinement (``shared/api/balances/create/createBalanceParams.ts``, run inside the handler,
so ``server/src/honoMiddlewares/errorMiddleware.ts`` answers 500 ``invalid_inputs``);
``track(customer_id)`` names no feature (``shared/api/balances/track/trackParams.ts``).
"""

from __future__ import annotations

import pytest

from autumn_async import AsyncAutumn, InternalServerError, UsageError
from autumn_emulator import Emulator


async def test_create_without_an_amount_says_what_is_missing(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """A metered create with no amount: the 500 invalid_inputs says to pass included."""
    with pytest.raises(InternalServerError) as info:
        await autumn.balances.create(feature_id="messages", customer_id="c1")
    error = info.value
    assert (error.status_code, error.code) == (500, "invalid_inputs")
    assert "a metered feature needs included (or included_grant) or unlimited=True" in str(error)
    assert emu.stats()["/v1/balances.create"] == 1  # a validation failure is not retried


async def test_create_without_an_amount_is_right_for_a_boolean_feature(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """The SDK cannot know the feature type, so it sends the bare create: a flag accepts it."""
    result = await autumn.balances.create(feature_id="sso", customer_id="c1")
    assert result.success is True
    check = await autumn.balances.check(feature_id="sso", customer_id="c1")
    assert (check.allowed, check.balance) == (True, None)
    assert check.flag is not None


async def test_the_working_create_grants_the_amount(autumn: AsyncAutumn, emu: Emulator) -> None:
    """The README's working form: an amount (or unlimited=True) for a metered feature."""
    await autumn.balances.create(feature_id="messages", customer_id="c1", included=100)
    assert emu.balances("c1")["messages"]["granted"] == 100


async def test_track_with_only_a_customer_says_what_is_missing(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """track(customer_id) is a UsageError naming feature_id; nothing is sent."""
    with pytest.raises(UsageError) as info:
        await autumn.balances.track(customer_id="c1")
    assert info.value.field == "feature_id"
    assert "needs feature_id" in str(info.value)
    assert "event_name" in str(info.value)
    assert emu.stats() == {}
