"""The one at-fork registry (``autumn_async._fork``): hooks run by stage, in a fixed order."""

from __future__ import annotations

import os
import sys

import pytest

from autumn_async import _fork


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty registry, so the SDK's own hooks do not run in the test process."""
    fresh = {when: {stage: [] for stage in _fork.STAGES} for when in ("before", "parent", "child")}
    monkeypatch.setattr(_fork, "_hooks", fresh)


@pytest.mark.usefixtures("hooks")
def test_hooks_run_in_stage_order_whatever_the_registration_order() -> None:
    """After fork, transports, then batchers, then the sync loop; before fork, the reverse."""
    ran: list[str] = []
    for stage in reversed(_fork.STAGES):  # registered as an unlucky import order would
        _fork.register(
            stage,
            before=lambda s=stage: ran.append(f"before:{s}"),
            after_in_child=lambda s=stage: ran.append(f"child:{s}"),
        )
    _fork._run("before")
    _fork._run("child")
    assert ran == [
        "before:sync_loop",
        "before:batchers",
        "before:transports",
        "child:transports",
        "child:batchers",
        "child:sync_loop",
    ]


@pytest.mark.usefixtures("hooks")
def test_registering_twice_runs_once_and_a_failing_hook_does_not_skip_the_rest() -> None:
    """register is idempotent; every hook runs even if one raises, then the error surfaces."""
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    def ok() -> None:
        ran.append("ok")

    _fork.register("transports", after_in_child=broken)
    _fork.register("sync_loop", after_in_child=ok)
    _fork.register("sync_loop", after_in_child=ok)
    with pytest.raises(RuntimeError, match="boom"):
        _fork._run("child")
    assert ran == ["ok"]


def test_unknown_stage_is_refused() -> None:
    """A typo in a stage name fails at registration, not silently at fork time."""
    with pytest.raises(ValueError, match="unknown fork stage"):
        _fork.register("transport", after_in_child=lambda: None)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_one_os_level_registration_serves_every_module() -> None:
    """Only _fork calls os.register_at_fork; the modules register with it."""
    import pathlib

    root = pathlib.Path(_fork.__file__).parents[1]
    users = [
        str(path.relative_to(root))
        for package in ("autumn_async", "autumn_sync")
        for path in (root / package).rglob("*.py")
        if "os.register_at_fork(" in path.read_text()
    ]
    assert users == [str(pathlib.Path("autumn_async", "_fork.py"))], users
    assert sys.modules["autumn_async._fork"] is _fork
