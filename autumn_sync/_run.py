"""Run a coroutine of the async client for a blocking caller (``_portal.call``).

Its own module so that ``_client`` and the resources it hands out (``_customers``,
``_entities``) all import it from below, rather than the resources importing ``_client``,
which imports them back.
"""

from __future__ import annotations

from . import _portal

__all__ = ["_run"]

#: On the calling thread's own loop, or the shared private loop (see ``_portal``).
_run = _portal.call
