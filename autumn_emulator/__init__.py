"""A stateful local Autumn server for demos, tests and benchmarks.

Serves the balance routes with the real server's validation, error bodies and semantics
(spec §9), plus admin routes under ``/_emulator/`` to seed data, read the ledger and inject
faults. Start it with ``python -m autumn_emulator``, in-process with
``async with Emulator() as emu:``, on a thread with ``with EmulatorThread() as emu:``, or
through the ``autumn_emulator`` / ``autumn_emulator_thread`` pytest fixtures.

Importing :mod:`autumn_async` does not import this package.
"""

from ._api_errors import ApiError
from ._server import DEFAULT_SECRET_KEY, Emulator, EmulatorThread
from ._state import EmulatorState

__all__ = ["ApiError", "DEFAULT_SECRET_KEY", "Emulator", "EmulatorState", "EmulatorThread"]
