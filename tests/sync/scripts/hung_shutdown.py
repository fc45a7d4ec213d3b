"""A shutdown callback that never finishes delays exit only by its bound."""

from __future__ import annotations

import asyncio
import logging

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)
from _sessions import open_session

from autumn_sync import _portal

_portal.SHUTDOWN_CALLBACK_TIMEOUT = 0.2
# The SDK only has a NullHandler: the application decides where its warnings go.
logging.basicConfig(level=logging.WARNING)


async def hang() -> None:
    await asyncio.Event().wait()


open_session("main")
_portal.register_shutdown(hang)
print("main done", flush=True)
