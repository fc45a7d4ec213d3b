"""The sync shim's private event loop: results, threads, nesting, deadlock, fork, Ctrl-C, exit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autumn_async._errors import UsageError
from autumn_sync import _portal

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parents[2]


class _BoomError(Exception):
    pass


async def _echo(value: int) -> int:
    await asyncio.sleep(0)
    return value


async def _fail(err: BaseException) -> None:
    await asyncio.sleep(0)
    raise err


async def _where() -> tuple[threading.Thread, asyncio.AbstractEventLoop, bool]:
    return threading.current_thread(), asyncio.get_running_loop(), _portal.in_portal_thread()


# -- results and exceptions ------------------------------------------------------------


def test_returns_the_coroutine_result() -> None:
    """run() returns what the coroutine returns."""
    assert _portal.run(_echo(7)) == 7


def test_accepts_a_coroutine_factory() -> None:
    """run() also takes a zero-argument function that makes the coroutine."""
    assert _portal.run(lambda: _echo(8)) == 8


def test_raises_the_same_exception_object_with_the_callers_frame() -> None:
    """The coroutine's exception reaches the caller as the same object, caller frame on top."""
    err = _BoomError("boom")
    with pytest.raises(_BoomError) as info:
        _portal.run(_fail(err))
    assert info.value is err
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    caller = "test_raises_the_same_exception_object_with_the_callers_frame"
    assert names.index(caller) < names.index("run") < names.index("_fail")


def test_survives_a_coroutine_raising_system_exit() -> None:
    """SystemExit from a coroutine reaches the caller and the loop keeps serving."""
    with pytest.raises(SystemExit):
        _portal.run(_fail(SystemExit(3)))
    assert _portal.run(_echo(1)) == 1


# -- the loop and its thread ------------------------------------------------------------


def test_runs_on_one_named_daemon_thread() -> None:
    """Every call runs on the same loop, on a daemon thread named autumn-sync-loop."""
    thread, loop, inside = _portal.run(_where())
    assert loop is _portal.loop()
    assert _portal.run(_where())[1] is loop
    assert thread.name == "autumn-sync-loop"
    assert thread.daemon
    assert thread is not threading.current_thread()
    assert inside
    assert not _portal.in_portal_thread()


def test_many_threads_at_once() -> None:
    """16 threads making 100 calls each all get their own results."""
    barrier = threading.Barrier(16)

    def worker(offset: int) -> list[int]:
        barrier.wait()
        return [_portal.run(_echo(offset + i)) for i in range(100)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(worker, range(0, 1600, 100)))
    assert results == [list(range(start, start + 100)) for start in range(0, 1600, 100)]


def test_call_from_inside_a_running_loop_blocks_only_the_caller() -> None:
    """Inside asyncio.run, the call runs on the private loop; the caller's loop lives on."""

    async def main() -> tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
        caller_loop = asyncio.get_running_loop()
        _, portal_loop, _ = _portal.run(_where())
        assert await asyncio.sleep(0, result=True)
        return caller_loop, portal_loop

    caller_loop, portal_loop = asyncio.run(main())
    assert portal_loop is _portal.loop()
    assert portal_loop is not caller_loop
    assert not portal_loop.is_closed()


@pytest.mark.timeout(10)
def test_call_from_the_portal_thread_raises_instead_of_deadlocking() -> None:
    """A blocking call made on the private loop's own thread is a UsageError."""

    async def nested() -> int:
        return _portal.run(_echo(1))

    async def nested_factory() -> int:
        return _portal.run(lambda: _echo(1))

    with pytest.raises(UsageError, match="deadlock"):
        _portal.run(nested())
    with pytest.raises(UsageError, match="deadlock"):
        _portal.run(nested_factory())
    assert _portal.run(_echo(2)) == 2


def test_unregister_shutdown_ignores_unknown_callbacks() -> None:
    """Unregistering a callback that was never registered is harmless."""

    async def callback() -> None:
        return None

    _portal.unregister_shutdown(callback)
    _portal.register_shutdown(callback)
    _portal.unregister_shutdown(callback)
    assert callback not in _portal._shutdown_callbacks


# -- process-level behaviour, in subprocesses -------------------------------------------


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Environment for a script, once with uvloop (when installed) and once without."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    env = dict(os.environ)
    env[_portal.ENV_UVLOOP] = "1" if request.param == "uvloop" else "0"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _script(name: str) -> list[str]:
    # -X dev: asyncio debug mode and visible ResourceWarnings, so leaks show on stderr.
    return [sys.executable, "-X", "dev", str(SCRIPTS / name)]


def _run_script(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _script(name), env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_fork_child_gets_a_fresh_loop_and_the_parent_keeps_working(
    loop_env: dict[str, str],
) -> None:
    """After fork the child runs calls on its own loop and exits normally; the parent goes on."""
    proc = _run_script("fork_child.py", loop_env)
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = [line.split(" pid=")[0] for line in proc.stdout.splitlines()]
    expected_loop = "uvloop" if loop_env[_portal.ENV_UVLOOP] == "1" else "asyncio"
    # Each process closes its own session at exit, on its own loop, and only its own.
    assert lines == [
        f"loop={expected_loop}",
        "child ok",
        "session closed: child",
        "parent ok",
        "session closed: parent",
    ]


def test_ctrl_c_cancels_the_call_in_flight(loop_env: dict[str, str]) -> None:
    """SIGINT while waiting raises KeyboardInterrupt in the caller and cancels the coroutine."""
    with subprocess.Popen(
        _script("ctrl_c.py"),
        env=loop_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline() == "waiting\n"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert (proc.returncode, err) == (0, "")
    assert out.splitlines() == ["interrupted; coroutine saw ['cancelled']", "portal still works"]


def test_exit_runs_shutdown_callbacks_then_closes_sessions_silently(
    loop_env: dict[str, str],
) -> None:
    """At exit: callbacks newest first, pending work cancelled, sessions closed, no noise."""
    proc = _run_script("clean_exit.py", loop_env)
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines[:4] == [
        "main done",
        "shutdown callback: second",
        "shutdown callback: first",  # it resolved a host name: the executor still works
        "pending call cancelled at exit",
    ]
    assert lines[4].startswith("session closed: main")
    assert lines[5:] == ["late call refused: UsageError"]


def test_exit_is_bounded_when_a_shutdown_callback_hangs(loop_env: dict[str, str]) -> None:
    """A shutdown callback that never finishes is abandoned after its bound, with a warning."""
    proc = _run_script("hung_shutdown.py", loop_env)
    assert proc.returncode == 0
    assert "did not finish in time at exit" in proc.stderr
    assert proc.stdout.splitlines()[0] == "main done"
    assert proc.stdout.splitlines()[1].startswith("session closed: main")
