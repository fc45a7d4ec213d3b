"""Pytest fixtures that run a local Autumn emulator (registered as the ``autumn_emulator`` plugin).

Installing ``autumn-balances`` makes two fixtures available in any test suite:

- ``autumn_emulator``: an async fixture yielding a running :class:`~autumn_emulator.Emulator`
  on the test's event loop, for ``async def`` tests (needs ``pytest-asyncio``);
- ``autumn_emulator_thread``: a sync fixture yielding a running
  :class:`~autumn_emulator.EmulatorThread`, served from its own thread and loop. Use it
  for sync tests and sync test clients (FastAPI's ``TestClient``, Django's test client,
  ``autumn_sync.Autumn``): they block the calling thread, and an emulator on that
  thread's loop could never answer them.

Each test gets a fresh emulator on a free loopback port with the secret key ``am_sk_test``.
Loading the plugin costs nothing measurable: this module imports only pytest (and
pytest-asyncio, which pytest has already loaded when it is installed); aiohttp and the
emulator are imported when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from . import Emulator, EmulatorThread

__all__ = ["autumn_emulator", "autumn_emulator_thread"]

#: Secret key the fixtures' emulators accept.
FIXTURE_SECRET_KEY = "am_sk_test"  # noqa: S105 - a fixed test key, not a credential

MISSING_PYTEST_ASYNCIO = (
    "the autumn_emulator fixture is async and needs pytest-asyncio "
    "(pip install pytest-asyncio); for sync tests use autumn_emulator_thread"
)


@pytest.fixture
def autumn_emulator_thread() -> Iterator[EmulatorThread]:
    """Yield an emulator served from its own daemon thread, for sync tests and test clients."""
    from . import EmulatorThread  # noqa: PLC0415 - keep loading the plugin free

    with EmulatorThread(secret_key=FIXTURE_SECRET_KEY) as emu:
        yield emu


async def _emulator_on_the_test_loop() -> AsyncIterator[Emulator]:
    """Yield an emulator running on the test's event loop, for async tests."""
    from . import Emulator  # noqa: PLC0415 - keep loading the plugin free

    async with Emulator(secret_key=FIXTURE_SECRET_KEY) as emu:
        yield emu


def _pytest_asyncio_missing() -> None:
    """Unavailable without pytest-asyncio: fails with a message that says so."""
    pytest.fail(MISSING_PYTEST_ASYNCIO, pytrace=False)


autumn_emulator: Any
try:
    import pytest_asyncio
except ImportError:
    autumn_emulator = pytest.fixture(name="autumn_emulator")(_pytest_asyncio_missing)
else:
    autumn_emulator = pytest_asyncio.fixture(name="autumn_emulator")(_emulator_on_the_test_loop)
