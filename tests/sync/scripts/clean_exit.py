"""Exit without closing anything; the portal's at-exit shutdown must tidy up silently."""

from __future__ import annotations

import atexit
import threading

import _load_tolerant  # noqa: F401  (a 5 s slow-callback threshold, before any loop exists)


def call_after_shutdown() -> None:
    # Registered before the portal is imported, so atexit runs it after the portal's.
    try:
        _portal.run(one())
    except UsageError as exc:
        print(f"late call refused: {type(exc).__name__}", flush=True)


atexit.register(call_after_shutdown)

import asyncio  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402

from _sessions import open_session  # noqa: E402

from autumn_async._errors import UsageError  # noqa: E402
from autumn_sync import _portal  # noqa: E402


async def one() -> int:
    return 1


def make_callback(name: str, *, resolve: bool = False) -> Callable[[], Awaitable[None]]:
    async def callback() -> None:
        if resolve:  # needs the loop's executor, which concurrent.futures shut at exit
            await asyncio.get_running_loop().getaddrinfo("localhost", 80)
        print(f"shutdown callback: {name}", flush=True)

    return callback


started = threading.Event()


async def stuck_call() -> None:
    started.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        print("pending call cancelled at exit", flush=True)
        raise


workers: list[asyncio.Task[bool]] = []


async def start_background_task() -> None:
    # Like a batcher's worker that nobody stopped: pending when the loop shuts down.
    workers.append(asyncio.get_running_loop().create_task(asyncio.Event().wait()))


assert _portal.run(one()) == 1
open_session("main")
_portal.register_shutdown(make_callback("first", resolve=True))
_portal.register_shutdown(make_callback("second"))
dropped = make_callback("dropped")
_portal.register_shutdown(dropped)
_portal.unregister_shutdown(dropped)
_portal.run(start_background_task())
threading.Thread(target=_portal.run, args=(stuck_call(),), daemon=True).start()
started.wait()
print("main done", flush=True)
