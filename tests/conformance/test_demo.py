"""``make demo`` and the quickstarts run end to end against the emulator, on loopback only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autumn_emulator import EmulatorThread

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one example with this interpreter, as ``make demo`` does; capture its output.

    ``PYTHONASYNCIODEBUG`` (set by ``make unit``) is dropped: its slow-callback reports
    depend on the machine's load, not on the example.
    """
    base = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**base, **(env or {})},
    )


def test_demo_runs_the_whole_story_and_exits_cleanly() -> None:
    """examples/demo.py exits 0, prints every step and writes nothing to stderr."""
    done = run("demo.py")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    for line in [
        "0. Create the customer: customers.get_or_create",
        "customer                           acme (Acme Inc., billing@acme.example)",
        "customers.get sees remaining       997",
        "1. Create balances",
        "messages granted                   1,000",
        "3. Track 3 messages",
        "ai_tokens remaining                48,800",
        "flag                               sso",
        "allowed                            False",
        "Feature Unavailable",
        "events in the ledger               200 (exactly once each)",
        "answers lost, replayed safely",
        "messages                           597 of 1,000 left (used 403;",
        "quickstart.py (autumn_sync.Autumn):",
        "quickstart_async.py (autumn_async.AsyncAutumn):",
        "remaining messages: 180",
        "Demo complete: every call behaved as documented.",
    ]:
        assert line in out
    assert out.count("events in the ledger               200 (exactly once each)") == 2


@pytest.fixture
def seeded(autumn_emulator_thread: EmulatorThread) -> EmulatorThread:
    """The thread emulator with the quickstarts' feature; the quickstart creates its customer."""
    autumn_emulator_thread.add_feature("messages")
    return autumn_emulator_thread


@pytest.mark.parametrize(
    ("script", "last_line"),
    [
        ("quickstart.py", "tracked 5 messages; remaining: 95"),
        ("quickstart_async.py", "remaining messages: 85"),
    ],
)
def test_quickstart_reads_server_and_key_from_the_environment(
    seeded: EmulatorThread, script: str, last_line: str
) -> None:
    """Each quickstart finds the server and key in AUTUMN_SERVER_URL / AUTUMN_SECRET_KEY."""
    done = run(script, {"AUTUMN_SERVER_URL": seeded.url, "AUTUMN_SECRET_KEY": seeded.secret_key})
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[0] == "customer user_123 ready (Quickstart user)"
    assert done.stdout.splitlines()[-1] == last_line
    assert seeded.balances("user_123")["messages"]["granted"] == 100


@pytest.mark.parametrize("script", ["quickstart.py", "quickstart_async.py"])
def test_quickstart_creates_a_new_customer_first(seeded: EmulatorThread, script: str) -> None:
    """A customer Autumn has not seen is created by get_or_create, so check/track work."""
    env = {
        "AUTUMN_SERVER_URL": seeded.url,
        "AUTUMN_SECRET_KEY": seeded.secret_key,
        "AUTUMN_CUSTOMER_ID": "brand_new",
    }
    done = run(script, env)
    assert (done.returncode, done.stderr) == (0, "")
    assert seeded.balances("brand_new")["messages"]["granted"] == 100


@pytest.mark.parametrize("script", ["quickstart.py", "quickstart_async.py"])
def test_quickstart_reports_an_unknown_feature(seeded: EmulatorThread, script: str) -> None:
    """A quickstart run for a feature that does not exist exits 1 with the typed error."""
    env = {
        "AUTUMN_SERVER_URL": seeded.url,
        "AUTUMN_SECRET_KEY": seeded.secret_key,
        "AUTUMN_FEATURE_ID": "nothing",
    }
    done = run(script, env)
    assert done.returncode == 1
    assert "quickstart failed: NotFoundError" in done.stderr
    assert "feature_not_found" in done.stderr
