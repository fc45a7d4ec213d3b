"""Block in a blocking call on the thread's own loop until SIGINT; it must be cancelled."""

from __future__ import annotations

import asyncio
import sys

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)

from autumn_sync import _portal

seen: list[str] = []


async def wait_forever() -> None:
    # Printed by the loop once this coroutine is suspended: Ctrl-C then finds it waiting.
    asyncio.get_running_loop().call_soon(lambda: print("waiting", flush=True))
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        seen.append("cancelled")
        raise


async def where() -> bool:
    return _portal.in_portal_thread()


try:
    _portal.call(wait_forever())
except KeyboardInterrupt:
    print(f"interrupted; coroutine saw {seen}", flush=True)
else:
    sys.exit("call() returned instead of raising KeyboardInterrupt")
assert _portal.call(where()) is False
print("own loop still works", flush=True)
