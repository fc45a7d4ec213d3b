"""Where the SDK's start-up time goes: ``python -X importtime``, by phase and package.

Phases: ``from autumn_sync import Autumn``, creating the client, and its first call
(which imports the HTTP stack lazily). Self times are summed per top-level package;
the median of a few runs is kept.
"""

from __future__ import annotations

import statistics
import subprocess
from typing import Any

import adapters

RUNS = 3
MARK = "@@phase "


def _code(base: str, cpu: int | None) -> str:
    pin = f"os.sched_setaffinity(0, {{{cpu}}})" if cpu is not None else "pass"
    return "\n".join(
        [
            "import os, sys",
            pin,
            f"sys.stderr.write({MARK + 'import'!r} + '\\n')",
            "from autumn_sync import Autumn",
            f"sys.stderr.write({MARK + 'create'!r} + '\\n')",
            f"client = Autumn(secret_key={adapters.SECRET_KEY!r}, server_url={base!r})",
            f"sys.stderr.write({MARK + 'first call'!r} + '\\n')",
            "client.balances.check(customer_id='cus_123', feature_id='messages')",
            f"sys.stderr.write({MARK + 'done'!r} + '\\n')",
            "client.close()",
        ]
    )


def _parse(stderr: str) -> dict[str, dict[str, dict[str, float]]]:
    """``{phase: {"packages": {top-level name: ms}, "modules": {module: ms}}}``."""
    phases: dict[str, dict[str, dict[str, float]]] = {}
    phase = None
    for line in stderr.splitlines():
        if line.startswith(MARK):
            phase = line[len(MARK) :].strip()
            continue
        if phase is None or phase == "done" or not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        module = parts[2].strip()
        ms = int(parts[0]) / 1000
        bucket = phases.setdefault(phase, {"packages": {}, "modules": {}})
        package = module.partition(".")[0]
        bucket["packages"][package] = bucket["packages"].get(package, 0.0) + ms
        bucket["modules"][module] = bucket["modules"].get(module, 0.0) + ms
    return phases


def _ranked(runs: list[dict[str, float]], top: int) -> list[list[Any]]:
    names = {name for run in runs for name in run}
    medians = {name: statistics.median(run.get(name, 0.0) for run in runs) for name in names}
    ranked = sorted(medians.items(), key=lambda item: -item[1])[:top]
    return [[name, round(ms, 1)] for name, ms in ranked]


def breakdown(python: str, base: str, cpu: int | None) -> dict[str, Any]:
    """Per phase: total import time, the packages and the modules costing most (medians)."""
    runs = []
    for _ in range(RUNS):
        done = subprocess.run(
            [python, "-X", "importtime", "-c", _code(base, cpu)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            return {"error": " | ".join(done.stderr.strip().splitlines()[-3:])}
        runs.append(_parse(done.stderr))
    result: dict[str, Any] = {}
    for phase in ("import", "create", "first call"):
        packages = [run.get(phase, {}).get("packages", {}) for run in runs]
        modules = [run.get(phase, {}).get("modules", {}) for run in runs]
        result[phase] = {
            "total_ms": statistics.median(sum(p.values()) for p in packages),
            "packages": _ranked(packages, 12),
            "modules": _ranked(modules, 10),
        }
    return result
