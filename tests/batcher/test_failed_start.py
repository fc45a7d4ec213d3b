"""Review: a spool that cannot be opened must not leave this owner's logs behind.

``SQLiteSpool.open`` allocates the owner's two logs (4 MiB each, with posix_fallocate)
before it opens SQLite. When SQLite then fails (a corrupt file, a path that is a
directory, "database or disk is full" on a full disk), the logs stay: empty, 8 MiB of real
blocks per attempt, and a supervisor restarting the worker adds 8 MiB per restart until
the disk is full (README "The spool": "a batcher that cannot take them over does not start";
``test_a_spool_that_cannot_be_written_stops_the_start_cleanly`` expects nothing left).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from autumn_async import SpoolError
from autumn_async._batcher import SQLiteSpool


def corrupt(spool: Path) -> None:
    spool.write_bytes(b"this is not a SQLite database" * 100)


def directory(spool: Path) -> None:
    spool.mkdir()


@pytest.mark.parametrize("make_unusable", [corrupt, directory])
async def test_failed_open_leaves_no_logs(
    tmp_path: Path, make_unusable: Callable[[Path], None]
) -> None:
    spool = tmp_path / "usage.db"
    make_unusable(spool)
    for _attempt in range(3):  # a supervisor restarting a worker
        store = SQLiteSpool(spool)
        with pytest.raises(SpoolError):
            await store.open("account")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usage.db"]


async def test_a_failed_open_leaves_another_owners_logs(tmp_path: Path) -> None:
    spool = tmp_path / "usage.db"
    corrupt(spool)
    other = [tmp_path / "usage.db-log.someone-else.0", tmp_path / "usage.db-log.someone-else.1"]
    for log in other:
        log.write_bytes(b"records of a dead owner")
    with pytest.raises(SpoolError):
        await SQLiteSpool(spool).open("account")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["usage.db", *(log.name for log in other)]
    )
    assert all(log.read_bytes() == b"records of a dead owner" for log in other)
