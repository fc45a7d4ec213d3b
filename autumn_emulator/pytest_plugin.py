"""Pytest fixtures that run a local Autumn emulator (registered as the ``autumn_emulator`` plugin).

Installing ``autumn-balances`` makes two fixtures available in any test suite:

- ``autumn_emulator``: an async fixture yielding a running :class:`~autumn_emulator.Emulator`
  (needs ``pytest-asyncio``);
- ``autumn_emulator_thread``: a sync fixture yielding a running
  :class:`~autumn_emulator.EmulatorThread`.

Each test gets a fresh emulator on a free loopback port with the secret key ``am_sk_test``.
The emulator is imported only when a fixture is used, so loading the plugin costs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from . import Emulator, EmulatorThread

__all__ = ["autumn_emulator", "autumn_emulator_thread"]

#: Secret key the fixtures' emulators accept.
FIXTURE_SECRET_KEY = "am_sk_test"  # noqa: S105 - a fixed test key, not a credential


@pytest.fixture
def autumn_emulator_thread() -> Iterator[EmulatorThread]:
    """Yield an emulator served from its own daemon thread, for sync tests."""
    from . import EmulatorThread  # noqa: PLC0415 - keep loading the plugin free

    with EmulatorThread(secret_key=FIXTURE_SECRET_KEY) as emu:
        yield emu


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixture needs pytest-asyncio
    pass
else:

    @pytest_asyncio.fixture
    async def autumn_emulator() -> AsyncIterator[Emulator]:
        """Yield an emulator running on the test's event loop, for async tests."""
        from . import Emulator  # noqa: PLC0415 - keep loading the plugin free

        async with Emulator(secret_key=FIXTURE_SECRET_KEY) as emu:
            yield emu
