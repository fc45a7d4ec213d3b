"""The blocking client across a fork and at an exit without close, in real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autumn_emulator import EmulatorThread

SCRIPT = Path(__file__).parent / "scripts" / "sync_client_lifecycle.py"


@pytest.mark.parametrize(
    "uvloop",
    [
        "0",
        pytest.param(
            "1",
            marks=pytest.mark.xfail(
                sys.version_info >= (3, 12),
                reason="uvloop (opt-in) keeps libuv resolver threads alive, so on 3.12+ the "
                "fork warns that the process is multi-threaded (README, uvloop paragraph)",
                strict=True,
            ),
        ),
    ],
)
def test_fork_then_exit_without_close(uvloop: str) -> None:
    """Parent and forked child both track and exit 0, silently; each call counts once."""
    if uvloop == "1":
        pytest.importorskip("uvloop")
    with EmulatorThread(secret_key="am_sk_test") as emu:
        emu.add_feature("messages")
        emu.add_customer("c1")
        env = {"AUTUMN_SYNC_UVLOOP": uvloop, "PATH": "/usr/bin:/bin"}
        proc = subprocess.run(
            [sys.executable, "-X", "dev", str(SCRIPT), emu.url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
        values = sorted(event["value"] for event in emu.ledger())
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [
        "parent tracked",
        "child tracked 2",
        "child exit 0",
        "parent tracked 4",
    ]
    assert values == [1, 2, 4]
