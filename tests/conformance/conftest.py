"""Fixtures for the conformance suite: the SDK against a seeded in-process emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from autumn_async import AsyncAutumn
from autumn_emulator import Emulator

from ..conftest import INSTANT_RETRIES, SECRET

#: A fixed emulator clock (2026-03-08T20:00:00Z, Unix ms): resets and expiry are exact.
T0 = 1_773_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR


class FakeClock:
    """A settable millisecond clock for the emulator (``advance_time`` adds on top)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """A running emulator at ``T0`` with features and customer ``c1`` (entities seat_1, seat_2).

    Features: ``messages`` (metered, listens to ``ai_request``), ``api_calls`` (metered,
    listens to ``ai_request``), ``tokens`` (metered), ``sso`` (boolean).
    """
    async with Emulator(secret_key=SECRET, clock=FakeClock()) as emulator:
        await emulator.add_feature("messages", name="Messages", event_names=["ai_request"])
        await emulator.add_feature("api_calls", name="API calls", event_names=["ai_request"])
        await emulator.add_feature("tokens", name="Tokens")
        await emulator.add_feature("sso", name="SSO", type="boolean")
        await emulator.add_customer("c1", entities=["seat_1", "seat_2"])
        yield emulator


@pytest.fixture
async def autumn(emu: Emulator) -> AsyncIterator[AsyncAutumn]:
    """The SDK pointed at ``emu``, with retries that never sleep."""
    async with AsyncAutumn(
        secret_key=SECRET, server_url=emu.url, retry_config=INSTANT_RETRIES
    ) as client:
        yield client
