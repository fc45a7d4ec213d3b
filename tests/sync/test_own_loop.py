"""Blocking calls on the calling thread's own loop; fork, signals, first imports and exit.

The sync client runs each call on an event loop owned by the calling thread (no hand-off
to another thread), and on the shared private loop only when the calling thread already
runs a loop. Process-level behaviour is tested in real subprocesses.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from autumn_emulator import EmulatorThread
from autumn_sync import Autumn, _portal

SCRIPTS = Path(__file__).parent / "scripts"
ROOT = Path(__file__).parents[2]
SECRET = "am_sk_test"


async def _where() -> tuple[threading.Thread, asyncio.AbstractEventLoop, bool]:
    await asyncio.sleep(0)
    return threading.current_thread(), asyncio.get_running_loop(), _portal.in_portal_thread()


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(secret_key=SECRET) as emulator:
        emulator.add_feature("messages")
        emulator.add_customer("c1")
        yield emulator


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTUMN_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    # -X dev: asyncio debug mode, visible ResourceWarnings and DeprecationWarnings (3.12+
    # warns about a multi-threaded fork), so leaks and warnings show on stderr.
    return subprocess.run(
        [sys.executable, "-X", "dev", str(SCRIPTS / name), *args],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- where a call runs ----------------------------------------------------------------


def test_a_call_runs_in_the_calling_thread_on_its_own_loop() -> None:
    """No hand-off: the coroutine runs in the caller's thread, on a loop of that thread."""
    thread, loop, inside = _portal.call(_where())
    assert thread is threading.current_thread()
    assert not inside
    assert loop is not _portal.loop()
    assert _portal.call(_where())[1] is loop  # the same loop for every call of the thread


def test_each_thread_has_its_own_loop_closed_when_the_thread_ends() -> None:
    """Two threads get two loops; each is closed, and forgotten, when its thread ends."""
    seen: list[asyncio.AbstractEventLoop] = []

    def work() -> None:
        seen.append(_portal.call(_where())[1])

    for _ in range(2):  # one after the other: concurrent calls share the shared loop
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(set(seen)) == 2
    assert all(loop.is_closed() for loop in seen)
    assert not any(own.loop in seen for own in _portal._own_loops)


def test_a_thread_that_ends_closes_its_connection_pool(emu: EmulatorThread) -> None:
    """The client's pool opened on a worker thread's loop is closed when the thread ends."""
    with Autumn(secret_key=SECRET, server_url=emu.url) as autumn:
        loops: list[asyncio.AbstractEventLoop] = []

        def work() -> None:
            autumn.balances.track(customer_id="c1", feature_id="messages")
            loops.append(_portal.call(_where())[1])

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
        assert loops[0].is_closed()
        assert loops[0] not in autumn.async_client.pipeline.transport_built._sessions  # type: ignore[union-attr]
    assert len(emu.ledger()) == 1


def test_close_from_another_thread_closes_an_idle_threads_pool_when_it_ends(
    emu: EmulatorThread,
) -> None:
    """close() drops every pool; one opened by a thread now idle closes when that thread ends."""
    autumn = Autumn(secret_key=SECRET, server_url=emu.url)
    opened, finish = threading.Event(), threading.Event()
    loops: list[asyncio.AbstractEventLoop] = []

    def work() -> None:
        autumn.balances.track(customer_id="c1", feature_id="messages")
        loops.append(_portal.call(_where())[1])
        opened.set()
        finish.wait()

    worker = threading.Thread(target=work)
    worker.start()
    opened.wait()
    session = autumn.async_client.pipeline.transport_built._sessions[loops[0]].session  # type: ignore[union-attr]
    autumn.close()
    assert not session.closed  # that thread's loop is idle: nothing runs it now
    finish.set()
    worker.join()
    assert session.closed


def test_concurrent_calls_share_the_shared_loop() -> None:
    """A call made while another thread's call is in flight runs on the shared loop."""
    started, release = threading.Event(), threading.Event()
    places: list[bool] = []

    async def hold() -> bool:
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        return _portal.in_portal_thread()

    def first() -> None:
        places.append(_portal.call(hold()))

    holder = threading.Thread(target=first)
    holder.start()
    started.wait()
    try:
        _, _, inside = _portal.call(_where())
    finally:
        release.set()
        holder.join()
    assert inside  # the second call went to the shared loop
    assert places == [False]  # the first ran on its own thread's loop


def test_a_caller_inside_a_running_loop_uses_the_shared_loop() -> None:
    """From a coroutine (a notebook cell), the call blocks only the caller, on the shared loop."""

    async def main() -> tuple[threading.Thread, bool]:
        thread, _, inside = _portal.call(_where())
        return thread, inside

    thread, inside = asyncio.run(main())
    assert inside
    assert thread.name == _portal.THREAD_NAME


# -- Ctrl-C, signals, fork, exit, in real processes --------------------------------------


def test_ctrl_c_cancels_a_call_on_the_own_loop() -> None:
    """SIGINT while waiting raises KeyboardInterrupt and the coroutine sees CancelledError."""
    with subprocess.Popen(
        [sys.executable, "-X", "dev", str(SCRIPTS / "own_loop_ctrl_c.py")],
        env=_env(),
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
    assert out.splitlines() == ["interrupted; coroutine saw ['cancelled']", "own loop still works"]


def test_a_signal_handler_calls_the_client_during_the_first_call(emu: EmulatorThread) -> None:
    """Issue 12 item 9: the handler's call completes; nothing waits on a half-done import."""
    proc = _script("signal_during_first_call.py", emu.url)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == [
        "handler checked c1",
        "first call checked c1; signal raised: True",
    ]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_fork_while_another_thread_imports_the_http_stack(emu: EmulatorThread) -> None:
    """Issue 12 item 9: the fork waits for the import, so the child gets whole modules."""
    proc = _script("fork_during_import.py", emu.url)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == ["child tracked 2", "child exit 0", "parent tracked 4"]
    assert sorted(event["value"] for event in emu.ledger()) == [2, 4]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the warning is 3.12+")
def test_fork_with_the_shared_loop_alive_is_single_threaded(emu: EmulatorThread) -> None:
    """Issue 12 item 10: the loop thread is parked at fork (no multi-threaded fork warning),
    and the parent's batcher delivers afterwards."""
    proc = _script("fork_single_threaded.py", emu.url)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == [
        "threads before fork: ['MainThread', 'asyncio_0', 'autumn-sync-loop']",
        "child tracked 2",
        "child exit 0",
        "parent batcher flushed",
    ]
    assert sorted(event["value"] for event in emu.ledger()) == [1, 2, 4]


def test_a_batcher_left_open_flushes_at_exit_through_a_name_lookup(emu: EmulatorThread) -> None:
    """Issue 12 item 10: at exit (no new threads on 3.12) the flush still resolves and sends."""
    port = emu.url.rsplit(":", 1)[1]
    proc = _script("batcher_exit_flush.py", port)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == ["main done"]
    assert sorted(event["value"] for event in emu.ledger()) == [1, 2, 3]


def test_a_loop_that_cannot_be_made_leaves_nothing_to_finalise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Making a thread's loop can fail (EMFILE: no descriptor left for its selector); the
    # half-built holder must not print "Exception ignored in __del__" when collected.
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def no_descriptors() -> asyncio.AbstractEventLoop:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(_portal, "_new_loop", no_descriptors)
    with pytest.raises(OSError, match="Too many open files"):
        _portal._OwnLoop()
    gc.collect()
    assert unraisable == []
