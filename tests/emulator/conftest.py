"""Fixtures for the emulator tests: a fake clock, a seeded emulator and an HTTP helper."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from emulator_support import KEY, Api, FakeClock

from autumn_emulator import Emulator


@pytest.fixture
def clock() -> FakeClock:
    """The emulator's clock, settable by the test."""
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    """A running emulator: features messages, api_calls, dashboard; customer c1 with two seats."""
    async with Emulator(secret_key=KEY, clock=clock) as emulator:
        await emulator.add_feature("messages", name="Messages", event_names=["ai_request"])
        await emulator.add_feature("api_calls", event_names=["ai_request"])
        await emulator.add_feature("dashboard", type="boolean")
        await emulator.add_customer("c1", entities=["seat_1", "seat_2"])
        yield emulator


@pytest.fixture
async def api(emu: Emulator) -> AsyncIterator[Api]:
    """An HTTP helper bound to ``emu``."""
    async with aiohttp.ClientSession() as session:
        yield Api(session, emu.url)
