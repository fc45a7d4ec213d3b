"""A description of the machine and the software a run measured, for RESULTS.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import peers

OURS = ("autumn-balances", "aiohttp", "yarl", "multidict", "attrs", "cattrs", "orjson", "uvloop")
PEER_STACK = ("httpx", "httpcore", "pydantic", "pydantic-core", "requests", "aiohttp")
REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "autumn_async", "autumn_sync"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted SDK changes' if dirty else ''}"


def describe(
    server_cpu: int | None, client_cpu: int | None, installed: list[peers.Installed]
) -> dict[str, Any]:
    """Hardware, interpreter, library versions and core pinning of this run."""
    peer_versions = {}
    for item in installed:
        if item.python is not None:
            stack = peers.package_versions(item.python, (item.peer.distribution, *PEER_STACK))
            peer_versions[item.peer.name] = stack
    return {
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "pinning": (
            f"server on core {server_cpu}, client on core {client_cpu}"
            if server_cpu is not None
            else "not pinned (one core)"
        ),
        "ours": peers.package_versions(Path(sys.executable), OURS),
        "peers": peer_versions,
        "commit": _git_commit(),
        "date": subprocess.run(
            ["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True, check=False
        ).stdout.strip(),
    }
