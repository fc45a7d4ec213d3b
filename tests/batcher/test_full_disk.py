"""A disk that refuses the spool's writes, for real: a file size limit in a subprocess.

``RLIMIT_FSIZE`` makes the kernel refuse to grow a file past the limit with EFBIG, as a
full disk refuses with ENOSPC, and needs no mount or root. The batcher must never let a
raw ``OSError`` out of ``track()``, its start or ``close()``: it raises ``SpoolError``
naming the file and what to do, an event it refused was never acknowledged, and every
event it acknowledged stays in the spool (its logs) for the next batcher on the file.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autumn_async._batcher import SQLiteSpool, account_fingerprint

from .conftest import ROOT, SCRIPTS

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="RLIMIT_FSIZE and posix_fallocate as on Linux"
)


def run(spool: Path, phase: str, **env: str) -> dict[str, Any]:
    """Run ``scripts/spool_full_disk.py`` and return what it reports."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "spool_full_disk.py"), str(spool), phase],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def spooled_keys(spool: Path, url: str) -> set[str]:
    """The keys the spool holds for the script's account (taken over from its logs)."""

    async def claim() -> set[str]:
        store = SQLiteSpool(spool)
        await store.open(account_fingerprint(url, "am_sk_test"))
        try:
            return {event.key for event in await store.claim(100_000)}
        finally:
            await store.close()

    return asyncio.run(claim())


def assert_names_the_file(error: dict[str, Any], spool: Path) -> None:
    assert error["type"] == "SpoolError"
    assert error["autumn"]
    assert error["path"] == str(spool)
    assert str(spool) in error["text"]


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_a_full_disk_refuses_the_event_and_keeps_every_acknowledged_one(
    tmp_path: Path, mode: str
) -> None:
    """track() past the limit raises SpoolError (the event not accepted); closing and a
    later start that cannot write SQLite keep every acknowledged event in the logs."""
    spool = tmp_path / "usage.db"
    report = run(spool, f"track-{mode}")
    acknowledged = set(report["acknowledged"])
    assert 0 < len(acknowledged) < 1000
    error = report["error"]
    assert_names_the_file(error, spool)
    assert error["errno"] == errno.EFBIG
    assert "the event was not accepted" in error["text"]
    assert "ulimit -f" in error["text"]
    # Closing cannot move the events into SQLite: it says so, raises nothing, keeps them.
    assert report["close_error"] is None
    assert any(
        str(spool) in warning and "stay in its log files" in warning
        for warning in report["warnings"]
    ), report["warnings"]
    assert any(f"{len(acknowledged)} left in the spool" in w for w in report["warnings"])

    # The next batcher cannot write SQLite either (the logs hold 4 MiB, files may grow to
    # 4 MiB): it does not start, and takes nothing away.
    port = report["url"].rsplit(":", 1)[1]
    again = run(spool, "start", LIMIT=str(4 << 20), PORT=port)
    assert_names_the_file(again["error"], spool)
    assert "SQLite" in again["error"]["text"]
    assert "stay in its log files" in again["error"]["text"]

    assert spooled_keys(spool, report["url"]) == acknowledged


def test_a_spool_that_cannot_be_written_stops_the_start_cleanly(tmp_path: Path) -> None:
    """A limit below the log's size: SpoolError at start, naming the file, nothing left."""
    spool = tmp_path / "usage.db"
    report = run(spool, "start", LIMIT=str(1 << 20))
    error = report["error"]
    assert_names_the_file(error, spool)
    assert error["errno"] == errno.EFBIG
    assert "cannot start" in error["text"]
    assert list(tmp_path.iterdir()) == []
