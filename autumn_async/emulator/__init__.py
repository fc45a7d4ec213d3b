"""Alias of :mod:`autumn_emulator`, kept so that existing imports keep working.

The emulator is its own top-level package, ``autumn_emulator``, which imports nothing from the
SDK; prefer ``from autumn_emulator import Emulator`` and ``python -m autumn_emulator``.
"""

from autumn_emulator import DEFAULT_SECRET_KEY, ApiError, Emulator, EmulatorState, EmulatorThread

__all__ = ["ApiError", "DEFAULT_SECRET_KEY", "Emulator", "EmulatorState", "EmulatorThread"]
