"""A stateful local Autumn server for demos, tests and benchmarks.

Serves the balance routes with the real server's validation, error bodies and semantics
(spec §9), plus admin routes under ``/_emulator/`` to seed data, read the ledger and inject
faults. Start it with ``python -m autumn_emulator``, in-process with
``async with Emulator() as emu:``, on a thread with ``with EmulatorThread() as emu:``, or
through the ``autumn_emulator`` / ``autumn_emulator_thread`` pytest fixtures.

Names load on first use (PEP 562): importing this package, or its pytest plugin, does not
import aiohttp. Importing :mod:`autumn_async` does not import this package, and this
package imports nothing from the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._api_errors import ApiError
    from ._server import DEFAULT_SECRET_KEY, Emulator, EmulatorThread
    from ._state import EmulatorState

#: Public name -> the private module that defines it.
_SOURCES: dict[str, str] = {
    "ApiError": "._api_errors",
    "DEFAULT_SECRET_KEY": "._server",
    "Emulator": "._server",
    "EmulatorState": "._state",
    "EmulatorThread": "._server",
}

__all__ = ["DEFAULT_SECRET_KEY", "ApiError", "Emulator", "EmulatorState", "EmulatorThread"]


def __getattr__(name: str) -> object:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'autumn_emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(source, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
