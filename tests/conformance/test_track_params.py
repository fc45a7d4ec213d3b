"""track's ``overage_behavior`` and ``timestamp`` as the server reads them.

Follows ``shared/api/balances/track/overageBehavior.ts`` (``cap`` by default, ``overflow``
deducts the full value past the limits, ``reject`` accepted but internal) and
``shared/api/balances/track/trackTimestamp.ts`` with ``shared/billing/common/
unixMsTimestamp.ts`` (an integer of Unix ms, safe, positive, refined to "timestamp cannot
be in the future"), both used by ``TrackParamsSchema`` in ``trackParams.ts`` (repository
``useautumn/autumn``).
"""

from __future__ import annotations

from typing import Any

import pytest

from autumn_async import AsyncAutumn, BadRequestError
from autumn_emulator import Emulator

from .conftest import HOUR, T0
from .test_batch_track_drops import post

TRACK = "/v1/balances.track"


async def test_overflow_deducts_the_full_value_past_the_grant(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """``overflow`` takes all 15 from a grant of 10; ``cap`` (the default) stops at the grant."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    await autumn.balances.create(customer_id="c1", feature_id="tokens", included=10)
    over = await autumn.balances.track(
        customer_id="c1", feature_id="messages", value=15, overage_behavior="overflow"
    )
    capped = await autumn.balances.track(customer_id="c1", feature_id="tokens", value=15)
    assert over.balance is not None
    assert capped.balance is not None
    assert (over.balance.usage, over.balance.remaining) == (15, 0)
    assert (capped.balance.usage, capped.balance.remaining) == (10, 0)
    assert emu.balances("c1")["messages"]["usage"] == 15


async def test_cap_is_accepted_by_name(autumn: AsyncAutumn) -> None:
    """``overage_behavior="cap"`` is the default spelled out: the deduction stops at zero."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    result = await autumn.balances.track(
        customer_id="c1", feature_id="messages", value=12, overage_behavior="cap"
    )
    assert result.balance is not None
    assert result.balance.usage == 10


async def test_a_past_timestamp_is_the_event_time(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A track with a past ``timestamp`` is applied and its event carries that time."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    result = await autumn.balances.track(
        customer_id="c1", feature_id="messages", timestamp=T0 - HOUR
    )
    assert result.balance is not None
    assert result.balance.usage == 1
    assert [event.get("timestamp") for event in emu.ledger()] == [T0 - HOUR]


async def test_a_timestamp_in_the_servers_future_is_refused(autumn: AsyncAutumn) -> None:
    """A time after the server's clock is 400 naming ``timestamp``, and nothing is deducted."""
    await autumn.balances.create(customer_id="c1", feature_id="messages", included=10)
    with pytest.raises(BadRequestError, match="timestamp cannot be in the future"):
        await autumn.balances.track(customer_id="c1", feature_id="messages", timestamp=T0 + 1)
    check = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert check.balance is not None
    assert check.balance.usage == 0


@pytest.mark.parametrize("bad", [0, -5, 1.5, 2**53, T0 + HOUR, "1700000000000", True])
async def test_bad_timestamps_are_invalid_inputs(emu: Emulator, bad: Any) -> None:
    """Zero, negative, fractional, unsafe, future or non-number timestamps: 400 on the field."""
    await emu.add_balance(customer_id="c1", feature_id="messages", included_grant=10)
    body = {"customer_id": "c1", "feature_id": "messages", "timestamp": bad}
    status, reply = await post(emu, TRACK, body)
    assert status == 400
    assert isinstance(reply, dict)
    assert reply["code"] == "invalid_inputs"
    assert "timestamp" in reply["message"]
    assert emu.ledger() == []


async def test_batch_items_are_checked_the_same_way(emu: Emulator) -> None:
    """A future timestamp in one batch item refuses the batch, naming the item."""
    items = [
        {"customer_id": "c1", "feature_id": "messages", "timestamp": T0},
        {"customer_id": "c1", "feature_id": "messages", "timestamp": T0 + 1},
    ]
    status, reply = await post(emu, "/v1/balances.batch_track", items)
    assert status == 400
    assert isinstance(reply, dict)
    assert "1.timestamp" in reply["message"]


@pytest.mark.parametrize("behavior", ["overflow", "reject", "cap"])
async def test_every_server_overage_behavior_is_accepted(emu: Emulator, behavior: str) -> None:
    """All three values the server parses are accepted on the wire (``reject`` is internal)."""
    await emu.add_balance(customer_id="c1", feature_id="messages", included_grant=10)
    body = {"customer_id": "c1", "feature_id": "messages", "overage_behavior": behavior}
    status, _reply = await post(emu, TRACK, body)
    assert status == 200


async def test_unknown_overage_behavior_is_invalid_inputs(emu: Emulator) -> None:
    """A value the server does not know is 400 naming ``overage_behavior``."""
    body = {"customer_id": "c1", "feature_id": "messages", "overage_behavior": "sideways"}
    status, reply = await post(emu, TRACK, body)
    assert status == 400
    assert isinstance(reply, dict)
    assert "overage_behavior" in reply["message"]
