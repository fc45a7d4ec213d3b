"""Pure helpers for what the fleet reports: the server check and the status document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autumn_async._errors import UsageError
from autumn_async._log import sdk_logger

__all__ = ["build_status", "check_server"]

logger = sdk_logger("fleet")


def build_status(
    *,
    backlog: bytes | None,
    entries: int,
    dead: int,
    stats: Mapping[bytes, bytes],
    oldest: Sequence[Any],
    server_time: Sequence[Any],
    pending_summary: Sequence[Any],
    consumers: Sequence[Sequence[Any]],
) -> dict[str, Any]:
    """The ``status --json`` document from raw Redis replies.

    ``pending`` counts events handed over and not yet settled, whether a worker has read
    them or not; ``unread_entries`` (the group's lag) and ``claimed_entries`` split the
    stream's entries; ``oldest_pending_age`` is in seconds, by the server's clock.
    """
    claimed = int(pending_summary[0])
    now_ms = int(server_time[0]) * 1000 + int(server_time[1]) // 1000
    oldest_age = 0.0
    if oldest:
        oldest_age = max(0.0, (now_ms - int(oldest[0][0].split(b"-")[0])) / 1000)
    return {
        "pending": int(backlog or 0),
        "backlog": int(backlog or 0),
        "entries": int(entries),
        "claimed_entries": claimed,
        "unread_entries": max(0, int(entries) - claimed),
        "lag": max(0, int(entries) - claimed),
        "oldest_pending_age": oldest_age,
        "consumers": [_consumer(row) for row in consumers],
        "dead_letters": int(dead),
        "counters": {k.decode(): int(v) for k, v in stats.items()},
    }


def _consumer(row: Sequence[Any]) -> dict[str, Any]:
    fields = dict(zip(row[::2], row[1::2], strict=False))
    return {
        "name": fields[b"name"].decode(),
        "pending": int(fields[b"pending"]),
        "idle": int(fields[b"idle"]) / 1000,
    }


def check_server(info: Mapping[str, Any]) -> None:
    """Refuse Redis < 6.2; warn when the server would lose or evict handed-over events."""
    version = tuple(int(p) for p in str(info.get("redis_version", "0")).split(".")[:2])
    if version < (6, 2):
        raise UsageError(
            f"RedisSpool needs Redis >= 6.2 (XPENDING IDLE); this server is "
            f"{info.get('redis_version')}",
            field="url",
        )
    if not int(info.get("aof_enabled", 0)):
        logger.warning(
            "Redis persistence (appendonly) is off: events handed over are lost if Redis "
            "restarts; set appendonly yes"
        )
    policy = info.get("maxmemory_policy", "noeviction")
    if policy != "noeviction":
        logger.warning(
            "Redis maxmemory-policy is %s: under memory pressure Redis may evict the "
            "usage stream; set maxmemory-policy noeviction",
            policy,
        )
    if info.get("role") not in (None, "master"):
        logger.warning("this Redis node is a replica (%s): writes will fail", info.get("role"))
