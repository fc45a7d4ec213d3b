"""Run a coroutine of the async client for a blocking caller, on the private loop.

Its own module so that ``_client`` and the resources it hands out (``_customers``,
``_entities``) all import it from below, rather than the resources importing ``_client``,
which imports them back.
"""

from __future__ import annotations

import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from . import _portal

__all__ = ["_run"]

_T = TypeVar("_T")


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    if "autumn_async._transport" not in sys.modules:
        # Importing aiohttp on the private loop would stall every call in flight there;
        # pay for it once, in the caller's thread.
        import autumn_async._transport  # noqa: F401, PLC0415
    return _portal.run(coro)
