"""Fixtures for the batcher tests: a seeded emulator, a client on it, fault helpers."""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from autumn_async import AsyncAutumn
from autumn_emulator import Emulator, EmulatorThread

from ..conftest import INSTANT_RETRIES

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parents[2]
GRANT = 1_000_000_000


def seed(emu: Emulator | EmulatorThread) -> Any:
    """Feature ``messages`` (also tracked by event ``message_sent``), customers c1 and c2."""
    return [
        emu.add_feature("messages", event_names=["message_sent"]),
        emu.add_customer("c1", entities=["seat_1"]),
        emu.add_customer("c2"),
        emu.add_balance(customer_id="c1", feature_id="messages", included_grant=GRANT),
    ]


def add_faults(emu: Emulator | EmulatorThread, route: str, *, seed: int = 0) -> None:
    """30 % of requests to ``route`` fail: 10 % each dropped after applying, a 503, 429.

    The emulator rolls faults in order and the first that fires wins, so the second and
    third probabilities are scaled to make each 10 % of all requests. Retry-After is 0:
    the rules are exercised, the clock is not. On ``balances.track`` the 503 is a
    connection dropped before the request reached Autumn instead: a 503 carrying
    Autumn's JSON error means "maybe applied, never resend" there (the SDK's retry
    policy), which ``test_autumn_5xx_in_track_mode_is_outcome_unknown`` covers.
    """
    emu.set_fault(route, "drop_after", probability=0.1, seed=seed + 1)
    if route.endswith(".track"):
        emu.set_fault(route, "drop_before", probability=0.1 / 0.9, seed=seed + 2)
    else:
        emu.set_fault(
            route, "status", status=503, retry_after=0, probability=0.1 / 0.9, seed=seed + 2
        )
    emu.set_fault(route, "status", status=429, retry_after=0, probability=0.1 / 0.8, seed=seed + 3)


def summary(ledger: list[dict[str, Any]]) -> tuple[int, int, float]:
    """(events, distinct keys, summed value) of a ledger."""
    keys = collections.Counter(event["idempotency_key"] for event in ledger)
    return len(ledger), len(keys), sum(event["value"] for event in ledger)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """A running, seeded emulator on the test's loop."""
    async with Emulator() as emulator:
        for coro in seed(emulator):
            await coro
        yield emulator


#: Per-attempt timeout of the batcher tests' client. A lost answer's retry meets a 409
#: that the one retry policy trusts only this long after the lost attempt started, so
#: the faults' lost answers cost this much each; loopback answers take milliseconds.
ATTEMPT_TIMEOUT = 0.25


@pytest.fixture
async def autumn(emu: Emulator) -> AsyncIterator[AsyncAutumn]:
    """A client on ``emu`` whose retries never sleep."""
    async with AsyncAutumn(
        secret_key=emu.secret_key,
        server_url=emu.url,
        retry_config=INSTANT_RETRIES,
        timeout=ATTEMPT_TIMEOUT,
    ) as client:
        yield client


@pytest.fixture
def emu_thread() -> Iterator[EmulatorThread]:
    """A running, seeded emulator on its own thread, for sync tests and subprocesses."""
    with EmulatorThread() as emulator:
        seed(emulator)
        yield emulator
