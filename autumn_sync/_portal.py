"""The sync shim's engine: how a blocking call runs a coroutine of ``autumn_async``.

:func:`call` (what ``Autumn``'s methods use) runs the coroutine on an event loop owned by
the calling thread, in that thread: no hand-off to another thread, one connection pool
per thread, closed when the thread ends (or at exit). When the calling thread already
runs an event loop (a notebook cell, a sync helper called from async code, a signal
handler interrupting a call), it hands the coroutine to :func:`run` instead: one shared
private loop per process, on a daemon thread, which blocks only the calling thread.
Batchers live on that shared loop. The hazards handled here, each learned the hard way
(synchronicity has the same list):

* a call made from the shared loop's own thread would wait on itself forever: it raises;
* Ctrl-C while waiting cancels the in-flight coroutine instead of orphaning it;
* after ``os.fork()`` the child gets fresh loops and never touches the inherited ones,
  whose epoll sets and self-pipes are shared with the parent;
* before ``os.fork()`` on 3.12+, the shared loop's thread is parked when no call is in
  flight, so the parent forks single-threaded (no "multi-threaded fork" warning, and no
  lock such as stderr's held by that thread in the child); it restarts when next needed;
* the first call's imports (aiohttp ...) happen when the client is created, and a fork
  waits for an import under way in another thread: a child never inherits half a module,
  and a signal handler calling the client never waits on its own thread's import;
* at interpreter exit, registered shutdown callbacks (batchers flush, clients close)
  run first, then async generators are finalised on each loop (that is where the
  transport closes its aiohttp sessions), then the loops close, all within a bound,
  without starting threads (3.12 refuses new threads at exit).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sys
import threading
import time
import weakref
from asyncio import events
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from autumn_async._errors import UsageError
from autumn_async._fork import abandon, register
from autumn_async._log import sdk_logger

__all__ = [
    "abandon",
    "call",
    "in_portal_thread",
    "loop",
    "prepare",
    "register_shutdown",
    "run",
    "unregister_shutdown",
]

_T = TypeVar("_T")

THREAD_NAME = "autumn-sync-loop"
#: Set to ``1`` to run the private loops on uvloop (the ``speed`` extra). Opt-in, because a
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
#: Before fork: whether to park the shared loop's thread, and how long it may take. From
#: 3.12, CPython warns (DeprecationWarning) when a multi-threaded process forks.
PARK_BEFORE_FORK = sys.version_info >= (3, 12)
PARK_TIMEOUT = 2.0
RESTART_IN_PARENT = sys.version_info < (3, 13)

_logger = sdk_logger("sync")
_get_running_loop = events._get_running_loop
_get_ident = threading.get_ident

_lock = threading.Lock()
# Publishing ``_loop`` last is what lets ``run`` skip the lock on its fast path.
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_thread_ident: int | None = None
#: The shared loop while its thread is parked for a fork (see _before_fork).
_parked: asyncio.AbstractEventLoop | None = None
_exited = False
_shutdown_callbacks: list[Callable[[], Awaitable[object]]] = []
#: Calls waiting on the shared loop; parking for a fork waits for none to be in flight.
_in_flight: set[_Call] = set()


# --- the first call's imports ----------------------------------------------------------

_prepared = False
_preparing = False


def prepare() -> None:
    """Import now what the first call needs (aiohttp, the models, their readers).

    Called when a blocking client is created, so that no call ever imports: a signal
    handler that calls the client while the first call is under way would otherwise find
    its own thread's half-done import, and a fork from another thread would copy it.
    """
    global _prepared, _preparing  # noqa: PLW0603 (once per process)
    if _prepared:
        return
    _preparing = True
    from autumn_async._client import _prepare_first_call  # noqa: PLC0415 (the point)

    _prepare_first_call()
    _prepared = True


# --- the calling thread's own loop -------------------------------------------------------


class _OwnLoop:
    """One thread's event loop for its blocking calls, and what guards it.

    ``lock`` is held while a call runs on the loop, and by the exit clean-up while it
    closes the loop; a call that finds it taken (a signal handler interrupting a call of
    the same thread, or a daemon thread at exit) goes to the shared loop instead.
    """

    __slots__ = ("__weakref__", "closed", "lock", "loop", "pid")

    def __init__(self) -> None:
        self.loop = _new_loop()
        # Held strongly until closed: if this object is collected as cyclic garbage (its
        # thread gone, a traceback keeping a frame alive), the loop must not be finalised
        # in the same sweep, unclosed; ``__del__`` closes it instead.
        _open_own_loops.add(self.loop)
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.closed = False

    def __del__(self) -> None:
        # The thread has ended (CPython drops a thread's locals in that thread, as its
        # last act), or a forked child is discarding the locals of its parent's threads.
        # (A loop that failed to be made leaves no slots set: nothing to close.)
        if getattr(self, "closed", True):
            return
        if self.pid != os.getpid():
            self.closed = True
            abandon(self.loop)
            return
        if _get_running_loop() is None and self.lock.acquire(blocking=False):
            try:
                _close_own(self)
            finally:
                self.lock.release()
            return
        # Collected on a thread that is running a loop (the garbage collector runs
        # wherever it likes): this loop cannot be driven here, so close it on a thread of
        # its own rather than leak it and its sockets.
        try:
            threading.Thread(
                target=_close_own_when_free, args=(self,), name="autumn-sync-close", daemon=True
            ).start()
        except RuntimeError:  # interpreter shutdown: no new threads; the process is ending
            abandon(self.loop)


class _Local(threading.local):
    own: _OwnLoop | None = None


_local = _Local()
_own_loops: weakref.WeakSet[_OwnLoop] = weakref.WeakSet()
#: The loops of :class:`_OwnLoop` objects not closed yet (see ``_OwnLoop.__init__``).
_open_own_loops: set[asyncio.AbstractEventLoop] = set()
#: Own loops running a call now. Concurrent calls share the shared loop: one loop serving
#: many threads costs less CPU per call than each thread polling its own.
_busy: set[_OwnLoop] = set()


def call(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a blocking client call's coroutine and return its result (or raise its error).

    On the calling thread's own loop, in this thread, when no other blocking call is in
    flight; otherwise (calls from several threads at once, or a thread already running an
    event loop) on the shared loop through :func:`run`, where one loop serves them all.
    Ctrl-C while waiting cancels the coroutine, lets it unwind (bounded), then raises
    ``KeyboardInterrupt``.
    """
    if not _in_flight and not _busy and _get_running_loop() is None:
        own = _local.own
        if own is None:
            try:
                own = _new_own()
            except BaseException:
                coro.close()
                raise
        if own.lock.acquire(blocking=False):
            _busy.add(own)
            try:
                if own.closed:
                    coro.close()
                    raise _exited_error()
                return _drive(own.loop, coro)
            finally:
                _busy.discard(own)
                own.lock.release()
    return run(coro)


def _new_own() -> _OwnLoop:
    if _exited:
        raise _exited_error()
    if not _prepared:
        prepare()
    own = _local.own = _OwnLoop()
    _own_loops.add(own)
    return own


def _exited_error() -> UsageError:
    return UsageError(
        "the sync client's event loops have shut down because the interpreter is exiting; "
        "no further blocking calls can be made"
    )


if sys.version_info >= (3, 13):

    def _enter(loop: Any) -> None:
        loop._run_forever_setup()

    def _leave(loop: Any) -> None:
        loop._run_forever_cleanup()

else:

    def _enter(loop: Any) -> None:
        # What run_forever() does before its first turn (3.13 names it _run_forever_setup).
        loop._check_closed()
        loop._check_running()
        loop._set_coroutine_origin_tracking(loop._debug)
        loop._old_agen_hooks = sys.get_asyncgen_hooks()
        loop._thread_id = _get_ident()
        sys.set_asyncgen_hooks(
            firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook
        )
        events._set_running_loop(loop)

    def _leave(loop: Any) -> None:
        loop._stopping = False
        loop._thread_id = None
        events._set_running_loop(None)
        loop._set_coroutine_origin_tracking(False)
        sys.set_asyncgen_hooks(*loop._old_agen_hooks)
        loop._old_agen_hooks = None


if sys.version_info >= (3, 12):

    def _task(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        # Its first step runs now: a call whose arguments are refused, or that never
        # waits, costs no turn of the loop at all.
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]

else:

    def _task(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        # 3.12's eager start by hand: when nothing else is queued, the task's first step
        # (the only callback queued) runs now instead of on the next turn of the loop.
        ready = loop._ready  # type: ignore[attr-defined]
        if ready:
            return loop.create_task(coro)
        task = loop.create_task(coro)
        if len(ready) == 1:
            ready.popleft()._run()
        return task


def _drive(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion on ``loop`` (idle, owned by this thread) in this thread.

    ``run_until_complete`` less its stop: it turns the loop only until the task is done,
    which saves a done-callback and one turn of the loop per call.
    """
    if type(loop).run_forever is not asyncio.BaseEventLoop.run_forever:
        return _drive_stock(loop, coro)  # uvloop, or a loop with its own run_forever
    _enter(loop)
    task = None
    try:
        task = _task(loop, coro)
        run_once = loop._run_once  # type: ignore[attr-defined]
        while not task.done():
            run_once()
    except BaseException:
        # Ctrl-C (or SystemExit from a callback) left the call mid-way.
        if task is None:
            coro.close()
        elif not task.done():
            _unwind_here(loop, task)
        elif not task.cancelled():
            task.exception()  # raised inside the coroutine; retrieved: no log about it
        raise
    finally:
        _leave(loop)
    return task.result()


def _unwind_here(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    # Cancel the call and let it unwind, within a bound; a second Ctrl-C stops waiting.
    task.cancel()
    deadline = loop.time() + CANCEL_GRACE
    wake = loop.call_at(deadline, _noop)
    try:
        run_once = loop._run_once  # type: ignore[attr-defined]
        while not task.done() and loop.time() < deadline:
            run_once()
    finally:
        wake.cancel()
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" log


def _drive_stock(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, _T]) -> _T:
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.wait([task], timeout=CANCEL_GRACE))
            if task.done() and not task.cancelled():
                task.exception()
        raise


def _noop() -> None:
    return None


def _close_own_when_free(own: _OwnLoop) -> None:
    with own.lock:
        if not own.closed:
            _close_own(own)


def _close_own(own: _OwnLoop) -> None:
    """Close a thread's own loop and the connection pools opened on it (lock held)."""
    own.closed = True
    loop = own.loop
    try:
        if not loop.is_closed():
            _drive(loop, _wind_down(loop))
    except Exception:
        _logger.warning("closing a thread's event loop failed", exc_info=True)
    finally:
        if not loop.is_closed():
            loop.close()
        _open_own_loops.discard(loop)


async def _wind_down(loop: asyncio.AbstractEventLoop) -> None:
    # A pool closed from another thread leaves its closing queued here: let it run.
    await asyncio.sleep(0)
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    if leftovers:
        _, pending = await asyncio.wait(leftovers, timeout=CLEANUP_TIMEOUT)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=CLEANUP_TIMEOUT)
        for task in leftovers:
            if task.done() and not task.cancelled():
                task.exception()
    # The transport closes each aiohttp session in an async generator's finally.
    await loop.shutdown_asyncgens()


# --- the shared loop, on its own thread --------------------------------------------------


class _Call:
    """One coroutine in flight on the shared loop and the lock its caller waits on.

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
    """Run a coroutine (or a zero-argument function making one) on the shared loop.

    Blocks the calling thread only, and returns the coroutine's result or raises its
    exception (the same object, with this caller's frame in its traceback). Ctrl-C
    while waiting cancels the coroutine, then raises ``KeyboardInterrupt``. Raises
    :class:`UsageError` when called from the shared loop's own thread (it would
    deadlock) or after the loop has shut down at interpreter exit.
    """
    if _get_ident() == _thread_ident:
        if not callable(coro):
            coro.close()  # never scheduled: silence "coroutine was never awaited"
        raise UsageError(
            "a blocking autumn_sync call was made from the sync client's own event-loop "
            "thread (for example inside a coroutine or callback running there); it would "
            "deadlock waiting on itself. Use autumn_async and await the call instead."
        )
    if callable(coro):
        coro = coro()
    call = _Call(coro)
    # Registered before _loop is read: a fork's parking sees this call (see _park).
    _in_flight.add(call)
    try:
        portal = _loop
        if portal is None:
            try:
                portal = _start()
            except BaseException:
                coro.close()
                raise
        try:
            portal.call_soon_threadsafe(call.start, portal)
            call.done.acquire()
        except KeyboardInterrupt:
            _cancel(portal, call)
            raise
    finally:
        _in_flight.discard(call)
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
    """The shared private loop, started on its daemon thread if it is not running yet."""
    portal = _loop
    return portal if portal is not None else _start()


def in_portal_thread() -> bool:
    """Whether the calling thread is the shared loop's thread."""
    return _get_ident() == _thread_ident


def register_shutdown(callback: Callable[[], Awaitable[object]]) -> None:
    """Await ``callback()`` on the shared loop at interpreter exit, before the loop stops.

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
    global _loop, _parked  # noqa: PLW0603 (the portal is per-process state)
    with _lock:
        if _loop is not None:
            return _loop
        if _exited:
            raise _exited_error()
        if not _prepared:
            prepare()  # never import on the shared loop: it would stall every call there
        portal = _parked if _parked is not None else _new_loop()
        _spawn(portal)
        _parked = None
        _loop = portal
        return portal


def _spawn(portal: asyncio.AbstractEventLoop) -> None:
    """Start the shared loop's thread (``_lock`` held)."""
    global _thread, _thread_ident
    previous = _thread
    if previous is not None and previous.is_alive():
        previous.join()  # a park that timed out: the thread is stopping, let it finish
    thread = threading.Thread(target=_serve, args=(portal,), name=THREAD_NAME, daemon=True)
    thread.start()
    _thread, _thread_ident = thread, thread.ident


def _cancel(portal: asyncio.AbstractEventLoop, call: _Call) -> None:
    try:
        portal.call_soon_threadsafe(call.cancel)
    except RuntimeError:  # the loop is already closed (interpreter exit)
        return
    # Bounded: a coroutine that swallows CancelledError must not hang Ctrl-C.
    call.done.acquire(timeout=CANCEL_GRACE)


# --- fork ---------------------------------------------------------------------------------


def _before_fork() -> None:
    # An import of the HTTP stack under way in another thread: finish it first (this
    # waits on the module locks that thread holds), so the child gets whole modules.
    if _preparing and not _prepared:
        try:
            prepare()
        except Exception:
            _logger.debug("completing the SDK's imports before fork failed", exc_info=True)
    if PARK_BEFORE_FORK:
        _park()
        # Idle worker threads of the loops' default executors (asyncio resolves host
        # names in them) are let go too; the next lookup starts a new one.
        for own in list(_own_loops):
            if own.lock.acquire(blocking=False):
                try:
                    _release_executor(own.loop)
                finally:
                    own.lock.release()


def _park() -> None:
    """Stop the shared loop's thread if no call is in flight; the loop itself is kept."""
    global _loop, _parked, _thread, _thread_ident  # noqa: PLW0603
    with _lock:
        portal, thread = _loop, _thread
        if portal is None or thread is None or _in_flight:
            return
        _loop = None  # new callers now take the slow path: _start() restarts the thread
        portal.call_soon_threadsafe(portal.stop)
        thread.join(PARK_TIMEOUT)
        if _in_flight:
            # A call registered before _loop was cleared (it registers first, so it is
            # seen here) and may have queued its start: serve it.
            _spawn(portal)
            _loop = portal
            return
        _parked = portal
        if not thread.is_alive():
            _await_os_exit(thread)
            _thread = _thread_ident = None
            _release_executor(portal)
        # else: a callback is slow to return; the thread stops after it, and _spawn()
        # waits for that before starting the next one.


def _await_os_exit(thread: threading.Thread) -> None:
    # join() returns when the thread has released its Python state; the OS thread ends
    # a few instructions later, and CPython counts OS threads (/proc/self/stat) when it
    # decides whether to warn about a multi-threaded fork.
    task = f"/proc/self/task/{thread.native_id}"
    deadline = time.monotonic() + PARK_TIMEOUT
    while os.path.exists(task) and time.monotonic() < deadline:
        time.sleep(0.0001)


def _release_executor(loop: asyncio.AbstractEventLoop) -> None:
    """Shut down an idle loop's default executor and wait for its threads to end."""
    executor = getattr(loop, "_default_executor", None)
    if type(executor) is not ThreadPoolExecutor:
        return
    threads = list(executor._threads)
    loop._default_executor = None  # type: ignore[attr-defined]
    executor.shutdown(wait=True)  # a lookup under way finishes first
    for thread in threads:
        _await_os_exit(thread)


def _after_fork_in_parent() -> None:
    # Work waiting on the parked loop (a batcher's worker and timers) resumes now where
    # the interpreter has counted threads already (3.12); 3.13 counts them after these
    # hooks, so there, as for a loop with nothing to do, the next use restarts it.
    portal = _parked
    if RESTART_IN_PARENT and portal is not None and _has_work(portal):
        with contextlib.suppress(UsageError):
            _start()


def _has_work(portal: asyncio.AbstractEventLoop) -> bool:
    return bool(asyncio.all_tasks(portal)) or bool(getattr(portal, "_ready", ()))


def _after_fork_in_child() -> None:
    # The child must not close, stop or even wake an inherited loop: its epoll set
    # is the parent's too, so closing it here would unregister the parent's self-pipe
    # from that shared set and the parent's next call would hang. The threads that ran
    # them do not exist in the child; start afresh, lazily.
    global _lock, _loop, _parked, _thread, _thread_ident, _own_loops, _in_flight, _busy  # noqa: PLW0603
    inherited = [_loop, _parked]
    for own in list(_own_loops):
        own.closed = True
        inherited.append(own.loop)
    _local.own = None
    _own_loops = weakref.WeakSet()
    _open_own_loops.clear()  # the inherited ones are abandoned below, never finalised
    _in_flight = set()
    _busy = set()
    _lock = threading.Lock()  # another thread may have held it at the moment of fork
    _loop, _parked, _thread, _thread_ident = None, None, None, None
    for loop_ in inherited:
        if loop_ is None:
            continue
        abandon(loop_)
        if isinstance(loop_, asyncio.BaseEventLoop):
            # Marked closed without closing. An inherited transport closed in the child
            # then skips _remove_reader (no epoll_ctl on the shared set), and the
            # async-generator finaliser hook skips the loop instead of waking it.
            # uvloop's flag is not writable from Python: abandoning what holds its
            # handles (the transport's sessions) is what protects the parent there.
            loop_._closed = True  # type: ignore[attr-defined]


# --- exit ---------------------------------------------------------------------------------


class _ExitExecutor(ThreadPoolExecutor):
    """The loop's default executor during shutdown: one daemon thread per job.

    By the time atexit handlers run, concurrent.futures has shut every
    ThreadPoolExecutor down for good, so ``run_in_executor`` (asyncio's
    ``getaddrinfo``, hence aiohttp's default DNS resolver) would fail and a batcher
    flushing at exit could not connect. Where the interpreter refuses new threads at
    exit (3.12), the job runs inline, blocking the loop: at exit, nothing else waits.
    The subclass only satisfies the loop's type check; ``submit`` never touches the
    pool machinery.
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

        try:
            threading.Thread(target=work, name=f"{THREAD_NAME}-exit", daemon=True).start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown"
            work()
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


def _at_exit() -> None:
    global _loop, _parked, _exited  # noqa: PLW0603
    with _lock:
        _exited = True
        portal, thread, parked = _loop, _thread, _parked
        _loop = _parked = None
    if portal is not None and thread is not None:
        # Stop the shared loop's thread and finish its work here: from now on no thread
        # is started (3.12 refuses new threads at exit).
        portal.call_soon_threadsafe(portal.stop)
        thread.join(SHUTDOWN_TIMEOUT)
        if thread.is_alive():
            _logger.warning("the sync client's event loop did not stop in time at exit")
            portal = None
    elif parked is not None:
        if thread is not None:
            thread.join(SHUTDOWN_TIMEOUT)
        portal = None if thread is not None and thread.is_alive() else parked
    if portal is not None:
        try:
            _drive(portal, _shutdown_on_loop(portal))
        except Exception:
            _logger.warning("the sync client's event loop did not shut down cleanly", exc_info=True)
        finally:
            portal.close()
    for own in list(_own_loops):
        if own.closed or own.pid != os.getpid():
            continue
        if own.lock.acquire(blocking=False):
            try:
                _close_own(own)
            finally:
                own.lock.release()
        else:  # a daemon thread's call in flight: it is about to be frozen; leave it be
            abandon(own.loop)


# Registered at import, so it runs after atexit handlers registered later (atexit is
# last in, first out): user code that exits after importing us can still make calls.
atexit.register(_at_exit)
register(
    "sync_loop",
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
