"""The peer SDKs, each installed from PyPI into its own venv under ``benchmarks/.venvs/``.

A venv is reused while its stamp records the same requirement; a failed install is not
fatal: the peer is skipped and the tail of pip's output becomes a note in the results.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"
INSTALL_TIMEOUT = 600


@dataclass(frozen=True)
class Peer:
    """A peer SDK: what to install, which adapters drive it, what its users import."""

    name: str
    requirement: str
    distribution: str
    adapters: tuple[str, ...]
    #: ``module:Class`` that a user imports to make the (sync) client.
    entry: str
    #: The adapter whose ``create`` / ``check`` the start-up probe uses.
    startup_adapter: str
    notes: tuple[str, ...] = field(default=())


PEERS: tuple[Peer, ...] = (
    Peer(
        name="autumn-sdk",
        requirement="autumn-sdk>=1,<2",
        distribution="autumn-sdk",
        adapters=("autumn-sdk-async", "autumn-sdk-sync"),
        entry="autumn_sdk:Autumn",
        startup_adapter="autumn-sdk-sync",
        notes=(
            "Speakeasy-generated, httpx; one `Autumn` holds a sync and an async httpx client. "
            "Defaults kept: no retries unless configured; its fail-open hook (wraps the "
            "httpx clients, acts on errors only), timeout hook (5 s on check/track) and "
            "edge hook (off unless `use_edge`) stay on the call path, as users get them. "
            "Sends `x-api-version` of its own API (2.5.0) to `/v1/balances.check|track`.",
        ),
    ),
    Peer(
        name="autumn-python",
        requirement="autumn-python",
        distribution="autumn-python",
        adapters=("autumn-python-async", "autumn-python-sync"),
        entry="autumn:Autumn",
        startup_adapter="autumn-python-sync",
        notes=(
            "Stainless-generated (API 2.0.0), httpx; `max_retries=0` (retries never fire "
            "here anyway). Calls `/v1/check` and `/v1/track`; it builds response models "
            "without validation, so the 2.1 body is accepted as is.",
        ),
    ),
    Peer(
        name="autumn-py",
        requirement="autumn-py",
        distribution="autumn-py",
        adapters=("autumn-py-async", "autumn-py-sync"),
        entry="autumn:Client",
        startup_adapter="autumn-py-sync",
        notes=(
            "Community SDK (API 1.2.0): requests for sync, aiohttp for async; "
            "`max_retries=0`. Calls `/v1/check` and `/v1/track` with `X-Api-Version: "
            "1.2.0` and validates answers with pydantic against the 1.2 shape, so the "
            "server answers it with `bodies/check_v1.2.json` / `track_v1.2.json` (same "
            "facts, older shape; see benchmarks/README.md).",
        ),
    ),
)


@dataclass
class Installed:
    """Outcome of preparing one peer's venv."""

    peer: Peer
    python: Path | None
    version: str | None
    note: str | None


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def ensure(peer: Peer) -> Installed:
    """Create (or reuse) the peer's venv and install it; never raises."""
    venv = VENVS / peer.name
    python = venv / "bin" / "python"
    stamp = venv / ".bench-requirement"
    try:
        if not (python.exists() and stamp.exists() and stamp.read_text() == peer.requirement):
            if not python.exists():
                subprocess.run(
                    [sys.executable, "-m", "venv", str(venv)],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT,
                )
            pip = subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    peer.requirement,
                ],
                check=False,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
            if pip.returncode != 0:
                return Installed(peer, None, None, f"pip install failed: {_tail(pip.stderr)}")
            stamp.write_text(peer.requirement)
        version = subprocess.run(
            [
                str(python),
                "-c",
                f"import importlib.metadata as m; print(m.version({peer.distribution!r}))",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        return Installed(peer, None, None, f"venv set-up failed: {_tail(str(detail))}")
    return Installed(peer, python, version, None)


def package_versions(python: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``names`` in the interpreter ``python`` (missing ones left out)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    import json

    done = subprocess.run(
        [str(python), "-c", code, *names], check=False, capture_output=True, text=True, timeout=60
    )
    return json.loads(done.stdout) if done.returncode == 0 else {}
