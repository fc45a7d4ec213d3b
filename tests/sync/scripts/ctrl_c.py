"""Block in a portal call until SIGINT; the coroutine must see the cancellation."""

from __future__ import annotations

import asyncio
import sys

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)

from autumn_sync import _portal

seen: list[str] = []


async def wait_forever() -> None:
    print("waiting", flush=True)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        seen.append("cancelled")
        raise


async def one() -> int:
    return 1


try:
    _portal.run(wait_forever())
except KeyboardInterrupt:
    print(f"interrupted; coroutine saw {seen}", flush=True)
else:
    sys.exit("run() returned instead of raising KeyboardInterrupt")
assert _portal.run(one()) == 1
print("portal still works", flush=True)
