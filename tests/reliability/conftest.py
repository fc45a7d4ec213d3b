"""Fixtures of the reliability suite: a seeded emulator and the operations under test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from autumn_async import AsyncAutumn
from autumn_emulator import Emulator

CUSTOMER = "cus_rel"
#: Remaining balance of ``messages`` before each test.
START = 100


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """An emulator with ``messages`` (100 left for ``cus_rel``) and ``seats`` (no grant yet)."""
    async with Emulator() as emulator:
        await emulator.add_feature("messages", event_names=["ai_request"])
        await emulator.add_feature("seats")
        await emulator.add_customer(CUSTOMER)
        await emulator.add_balance(
            customer_id=CUSTOMER, feature_id="messages", included_grant=START
        )
        yield emulator


@dataclass(frozen=True)
class Op:
    """One operation: how to call it, its route, and how many times the emulator applied it."""

    name: str
    route: str
    call: Callable[[AsyncAutumn], Awaitable[Any]]
    applications: Callable[[Emulator], int]
    mutating: bool


def _remaining(emu: Emulator) -> float:
    return float(emu.balances(CUSTOMER)["messages"]["remaining"])


def _grants(emu: Emulator) -> int:
    seats = emu.balances(CUSTOMER).get("seats")
    return 0 if seats is None else len(seats["breakdown"] or [])


def _spent(emu: Emulator) -> int:
    # A deduction of 3 per application; the ledger must agree with the balance.
    events = [e for e in emu.ledger() if e["customer_id"] == CUSTOMER]
    assert (START - _remaining(emu)) == 3 * len(events)
    return len(events)


OPS: dict[str, Op] = {
    "create": Op(
        "create",
        "/v1/balances.create",
        lambda a: a.balances.create(customer_id=CUSTOMER, feature_id="seats", included=50),
        _grants,
        True,
    ),
    "update": Op(
        "update",
        "/v1/balances.update",
        lambda a: a.balances.update(customer_id=CUSTOMER, feature_id="messages", add_to_balance=5),
        lambda emu: int((_remaining(emu) - START) / 5),
        True,
    ),
    "check": Op(
        "check",
        "/v1/balances.check",
        lambda a: a.balances.check(customer_id=CUSTOMER, feature_id="messages", required_balance=3),
        _spent,
        False,
    ),
    "check_send_event": Op(
        "check_send_event",
        "/v1/balances.check",
        lambda a: a.balances.check(
            customer_id=CUSTOMER, feature_id="messages", required_balance=3, send_event=True
        ),
        _spent,
        True,
    ),
    "track": Op(
        "track",
        "/v1/balances.track",
        lambda a: a.balances.track(customer_id=CUSTOMER, feature_id="messages", value=3),
        _spent,
        True,
    ),
}
