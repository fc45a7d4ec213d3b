"""The sync shim's engine: one private event loop per process, on a daemon thread.

:func:`run` hands a coroutine of ``autumn_async`` to that loop and blocks only the
calling thread until it finishes, so the blocking client works from plain scripts,
from many threads at once and from inside someone else's running loop (Jupyter).
The hazards handled here, each learned the hard way (synchronicity has the same list):

* a call made from the loop's own thread would wait on itself forever: it raises;
* Ctrl-C while waiting cancels the in-flight coroutine instead of orphaning it;
* after ``os.fork()`` the child gets a fresh loop and never touches the inherited one,
  whose epoll set and self-pipe are shared with the parent;
* at interpreter exit, registered shutdown callbacks (batchers flush, clients close)
  run first, then async generators are finalised on this loop (that is where the
  transport closes its aiohttp sessions), then the loop stops, all within a bound.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from autumn_async._errors import UsageError
from autumn_async._fork import abandon
from autumn_async._log import sdk_logger

__all__ = [
    "abandon",
    "in_portal_thread",
    "loop",
    "register_shutdown",
    "run",
    "unregister_shutdown",
]

_T = TypeVar("_T")

THREAD_NAME = "autumn-sync-loop"
#: Set to ``1`` to run the private loop on uvloop (the ``speed`` extra). Opt-in, because a
#: forked child of a process whose uvloop used libuv's thread pool (any DNS lookup) crashes
#: in libuv's exit clean-up when it exits normally: fatal for gunicorn --preload workers.
ENV_UVLOOP = "AUTUMN_SYNC_UVLOOP"
#: At exit: time for all shutdown callbacks together, and for any one of them (seconds).
SHUTDOWN_TIMEOUT = 10.0
SHUTDOWN_CALLBACK_TIMEOUT = 5.0
#: At exit: time for leftover tasks to unwind, and for the loop thread to stop.
CLEANUP_TIMEOUT = 2.0
#: After Ctrl-C: time the cancelled call gets to unwind before the caller moves on.
CANCEL_GRACE = 1.0

_logger = sdk_logger("sync")

_lock = threading.Lock()
# Publishing ``_loop`` last is what lets ``run`` skip the lock on its fast path.
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_thread_ident: int | None = None
_exited = False
_shutdown_callbacks: list[Callable[[], Awaitable[object]]] = []


class _Call:
    """One coroutine in flight on the portal loop and the lock its caller waits on.

    Not ``run_coroutine_threadsafe``: its concurrent future turns "cancelled" the moment
    the caller cancels it, so the caller could not wait for the coroutine to unwind;
    this keeps the task at hand and costs fewer objects per call.
    """

    __slots__ = ("coro", "done", "exc", "result", "running", "task")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro: Coroutine[Any, Any, Any] | None = coro
        self.task: asyncio.Task[Any] | None = None
        self.result: Any = None
        self.exc: BaseException | None = None
        self.running = False
        # A plain lock rather than an Event or a Future: cheapest to wait on, and on
        # POSIX an untimed acquire() in the main thread is interrupted by Ctrl-C.
        self.done = threading.Lock()
        self.done.acquire()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.task = loop.create_task(self.drive())

    async def drive(self) -> None:
        # The caller is woken from inside the task, as its last step: a done-callback
        # would cost one more turn of the loop on every call (measured: ~8 % per call).
        self.running = True
        coro, self.coro = self.coro, None
        assert coro is not None
        try:
            self.result = await coro
        except asyncio.CancelledError as exc:
            if _exited:
                # Cancelled by the shutdown at exit; the caller can only be a daemon
                # thread, about to be frozen. Waking it would just print its traceback.
                raise
            self.exc = exc
        except GeneratorExit:
            raise
        except BaseException as exc:  # noqa: BLE001 (handed to the caller, who re-raises it)
            self.exc = exc
        self.task = None
        self.done.release()

    def cancel(self) -> None:
        if self.task is not None and self.running:
            self.task.cancel()
            return
        if self.task is not None:
            # Cancelled before drive() ran: the task dies before its body starts.
            self.task.cancel()
            self.task = None
        if self.coro is not None:
            # Ctrl-C landed before start() was queued (callbacks run in FIFO order, so
            # a queued start() would have run first): it never will be.
            self.coro.close()
            self.coro = None
            self.exc = asyncio.CancelledError()
            self.done.release()


def run(coro: Coroutine[Any, Any, _T] | Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine (or a zero-argument function making one) on the private loop.

    Blocks the calling thread only, and returns the coroutine's result or raises its
    exception (the same object, with this caller's frame in its traceback). Ctrl-C
    while waiting cancels the coroutine, then raises ``KeyboardInterrupt``. Raises
    :class:`UsageError` when called from the private loop's own thread (it would
    deadlock) or after the loop has shut down at interpreter exit.
    """
    if threading.get_ident() == _thread_ident:
        if not callable(coro):
            coro.close()  # never scheduled: silence "coroutine was never awaited"
        raise UsageError(
            "a blocking autumn_sync call was made from the sync client's own event-loop "
            "thread (for example inside a coroutine or callback running there); it would "
            "deadlock waiting on itself. Use autumn_async and await the call instead."
        )
    if callable(coro):
        coro = coro()
    portal = _loop
    if portal is None:
        try:
            portal = _start()
        except BaseException:
            coro.close()
            raise
    call = _Call(coro)
    try:
        portal.call_soon_threadsafe(call.start, portal)
        call.done.acquire()
    except KeyboardInterrupt:
        _cancel(portal, call)
        raise
    exc = call.exc
    if exc is None:
        result: _T = call.result
        return result
    try:
        raise exc
    finally:
        # The traceback references this frame: drop the locals that point back to it.
        exc = None
        del call


def loop() -> asyncio.AbstractEventLoop:
    """The private event loop, started on its daemon thread if it is not running yet."""
    portal = _loop
    return portal if portal is not None else _start()


def in_portal_thread() -> bool:
    """Whether the calling thread is the private loop's thread."""
    return threading.get_ident() == _thread_ident


def register_shutdown(callback: Callable[[], Awaitable[object]]) -> None:
    """Await ``callback()`` on the private loop at interpreter exit, before the loop stops.

    Callbacks run in reverse order of registration (register batchers after the client
    they use, and they flush before it closes), each within a bounded time; errors and
    time-outs are logged, never raised. The registry holds a strong reference.
    """
    _shutdown_callbacks.append(callback)


def unregister_shutdown(callback: Callable[[], Awaitable[object]]) -> None:
    """Forget a callback given to :func:`register_shutdown`; unknown ones are ignored."""
    with contextlib.suppress(ValueError):
        _shutdown_callbacks.remove(callback)


def _new_loop() -> asyncio.AbstractEventLoop:
    if os.environ.get(ENV_UVLOOP, "") in ("", "0"):
        return asyncio.new_event_loop()
    try:
        import uvloop  # noqa: PLC0415 (optional extra, and imported only when first needed)
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _serve(portal: asyncio.AbstractEventLoop) -> None:
    # This frame keeps the loop referenced; a forked child leaks it with the thread.
    while True:
        try:
            portal.run_forever()
        except BaseException:  # noqa: BLE001, S112
            # A task raised SystemExit or KeyboardInterrupt, which asyncio lets escape
            # run_forever. Its caller is told through the task; the loop must live on,
            # or every waiting caller would hang.
            continue
        return


def _start() -> asyncio.AbstractEventLoop:
    global _loop, _thread, _thread_ident  # noqa: PLW0603 (the portal is per-process state)
    with _lock:
        if _loop is not None:
            return _loop
        if _exited:
            raise UsageError(
                "the sync client's event loop has shut down because the interpreter is "
                "exiting; no further blocking calls can be made"
            )
        portal = _new_loop()
        thread = threading.Thread(target=_serve, args=(portal,), name=THREAD_NAME, daemon=True)
        thread.start()
        _thread, _thread_ident = thread, thread.ident
        _loop = portal
        return portal


def _cancel(portal: asyncio.AbstractEventLoop, call: _Call) -> None:
    try:
        portal.call_soon_threadsafe(call.cancel)
    except RuntimeError:  # the loop is already closed (interpreter exit)
        return
    # Bounded: a coroutine that swallows CancelledError must not hang Ctrl-C.
    call.done.acquire(timeout=CANCEL_GRACE)


def _after_fork_in_child() -> None:
    # The child must not close, stop or even wake the inherited loop: its epoll set
    # is the parent's too, so closing it here would unregister the parent's self-pipe
    # from that shared set and the parent's next call would hang. The thread that ran
    # it does not exist in the child; start afresh, lazily.
    global _lock, _loop, _thread, _thread_ident  # noqa: PLW0603
    inherited = _loop
    _lock = threading.Lock()  # another thread may have held it at the moment of fork
    _loop, _thread, _thread_ident = None, None, None
    if inherited is not None:
        abandon(inherited)
        if isinstance(inherited, asyncio.BaseEventLoop):
            # Marked closed without closing. An inherited transport closed in the child
            # then skips _remove_reader (no epoll_ctl on the shared set), and the
            # async-generator finaliser hook skips the loop instead of waking it.
            # uvloop's flag is not writable from Python: abandoning what holds its
            # handles (the transport's sessions) is what protects the parent there.
            inherited._closed = True  # type: ignore[attr-defined]


class _ExitExecutor(ThreadPoolExecutor):
    """The loop's default executor during shutdown: one daemon thread per job.

    By the time atexit handlers run, concurrent.futures has shut every
    ThreadPoolExecutor down for good, so ``run_in_executor`` (asyncio's
    ``getaddrinfo``, hence aiohttp's default DNS resolver) would fail and a batcher
    flushing at exit could not connect. The subclass only satisfies the loop's type
    check; ``submit`` never touches the pool machinery.
    """

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 (handed to the awaiting loop)
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=work, name=f"{THREAD_NAME}-exit", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


async def _shutdown_on_loop(portal: asyncio.AbstractEventLoop) -> None:
    portal.set_default_executor(_ExitExecutor(max_workers=1))
    deadline = portal.time() + SHUTDOWN_TIMEOUT
    for callback in reversed(list(_shutdown_callbacks)):
        remaining = deadline - portal.time()
        if remaining <= 0:
            _logger.warning("shutdown time used up; skipping %r at exit", callback)
            continue
        try:
            await asyncio.wait_for(callback(), min(SHUTDOWN_CALLBACK_TIMEOUT, remaining))
        except asyncio.TimeoutError:
            _logger.warning("shutdown callback %r did not finish in time at exit", callback)
        except Exception:  # a failing callback must not stop the others
            _logger.warning("shutdown callback %r failed at exit", callback, exc_info=True)
    # Like asyncio.run: tasks still pending (calls from daemon threads, workers nobody
    # stopped) are cancelled and awaited, or they are destroyed pending at exit.
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    if leftovers:
        await asyncio.wait(leftovers, timeout=CLEANUP_TIMEOUT)
        for task in leftovers:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" log
    # The transport closes each aiohttp session in an async generator's finally, so
    # this is what closes sessions on the loop that owns them.
    await portal.shutdown_asyncgens()
    await portal.shutdown_default_executor()


def _at_exit() -> None:
    global _loop, _exited  # noqa: PLW0603
    with _lock:
        _exited = True
        portal, thread, _loop = _loop, _thread, None
    if portal is None or thread is None:
        return
    call = _Call(_shutdown_on_loop(portal))
    portal.call_soon_threadsafe(call.start, portal)
    if not call.done.acquire(timeout=SHUTDOWN_TIMEOUT + 2 * CLEANUP_TIMEOUT):
        _logger.warning("the sync client's event loop did not shut down in time")
        portal.call_soon_threadsafe(call.cancel)
    portal.call_soon_threadsafe(portal.stop)
    thread.join(CLEANUP_TIMEOUT)
    if not thread.is_alive():
        portal.close()


# Registered at import, so it runs after atexit handlers registered later (atexit is
# last in, first out): user code that exits after importing us can still make calls.
atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork_in_child)
