"""Run a spooled batcher into a real "disk full": a file size limit (RLIMIT_FSIZE).

Usage: spool_full_disk.py SPOOL PHASE, where PHASE is

- ``track-async`` / ``track-sync``: start a batcher on SPOOL (nothing is ever answered:
  the server is a socket that never replies), then limit files to 1 MiB, track events
  of 60 KiB until the spool's log cannot grow, and close the batcher (which cannot move
  what it holds into SQLite either);
- ``start``: limit files to ``LIMIT`` bytes (the environment variable), then start a
  batcher on SPOOL.

Past the limit the kernel answers EFBIG, as a full disk answers ENOSPC (SIGXFSZ is
ignored so that the write fails instead of killing the process). Prints one JSON line:
the server URL (the spool's account), the keys ``track()`` acknowledged, the error
raised (type, text, attributes), whether closing raised, and the SDK's WARNING records.
"""

import asyncio
import json
import logging
import os
import resource
import signal
import socket
import sys
from typing import Any

from autumn_async import AsyncAutumn, AutumnError
from autumn_sync import Autumn

KEY = "am_sk_test"
#: Nothing leaves before closing, and closing gives up on the silent server at once.
NEVER_SENT: dict[str, Any] = {"flush_interval": 3600.0, "shutdown_timeout": 0.5}
KEYS = [f"ack-{i}" for i in range(1000)]


def event(key: str) -> dict[str, Any]:
    """One event of about 60 KiB: 70 of them fill a spool log's first 4 MiB."""
    return {
        "customer_id": "c1",
        "feature_id": "messages",
        "idempotency_key": key,
        "properties": {"blob": "x" * 60_000},
    }


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def limit_files(size: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))


def described(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "autumn": isinstance(exc, AutumnError),
        "text": str(exc),
        "path": getattr(exc, "path", None),
        "errno": getattr(exc, "errno", None),
    }


async def track_async(url: str, spool: str, out: dict[str, Any]) -> None:
    async with AsyncAutumn(secret_key=KEY, server_url=url, timeout=0.5) as autumn:
        batcher = autumn.batcher(spool_path=spool, **NEVER_SENT)
        await batcher.__aenter__()
        limit_files(1 << 20)
        try:
            for key in KEYS:
                await batcher.track(**event(key))
                out["acknowledged"].append(key)
        except BaseException as exc:
            out["error"] = described(exc)
        try:
            await batcher.aclose()
        except BaseException as exc:
            out["close_error"] = described(exc)


def track_sync(url: str, spool: str, out: dict[str, Any]) -> None:
    with Autumn(secret_key=KEY, server_url=url, timeout=0.5) as autumn:
        batcher = autumn.batcher(spool_path=spool, **NEVER_SENT)
        limit_files(1 << 20)
        try:
            for key in KEYS:
                batcher.track(**event(key))
                out["acknowledged"].append(key)
        except BaseException as exc:
            out["error"] = described(exc)
        try:
            batcher.close()
        except BaseException as exc:
            out["close_error"] = described(exc)


async def start(url: str, spool: str, out: dict[str, Any]) -> None:
    limit_files(int(os.environ["LIMIT"]))
    async with AsyncAutumn(secret_key=KEY, server_url=url) as autumn:
        try:
            async with autumn.batcher(spool_path=spool):
                pass
        except BaseException as exc:
            out["error"] = described(exc)


def main(spool: str, phase: str) -> None:
    silent = socket.create_server(("127.0.0.1", int(os.environ.get("PORT", "0"))))
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    records = Records()
    logging.getLogger("autumn_balances").addHandler(records)
    out: dict[str, Any] = {"url": url, "acknowledged": [], "error": None, "close_error": None}
    if phase == "track-async":
        asyncio.run(track_async(url, spool, out))
    elif phase == "track-sync":
        track_sync(url, spool, out)
    else:
        asyncio.run(start(url, spool, out))
    out["warnings"] = records.messages
    silent.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
