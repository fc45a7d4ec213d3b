"""The import contracts (pyproject's [tool.importlinter]) fail when broken.

Each case copies the three packages and pyproject.toml to a temporary folder, adds one
forbidden import, and runs ``lint-imports`` there: it must fail and name the contract.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

CASES = {
    "async imports sync": (
        "autumn_async/_retry.py",
        "import autumn_sync\n",
        ["autumn_async never imports autumn_sync BROKEN", "Layers: sync -> client"],
    ),
    "a function-level import makes a cycle": (
        "autumn_async/_requests.py",
        "def _late() -> None:\n    from . import _balances  # noqa\n",
        ["No import cycles among a package's modules", "BROKEN"],
    ),
    "aiohttp outside the transport": (
        "autumn_async/_pipeline.py",
        "import aiohttp\n",
        ["aiohttp (client side) only in autumn_async._transport BROKEN"],
    ),
    "the emulator imports the SDK": (
        "autumn_emulator/_state.py",
        "import autumn_async\n",
        ["The emulator never imports the SDK (it is the conformance tests' oracle) BROKEN"],
    ),
}


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_contract_fails_lint_imports(tmp_path: Path, case: str) -> None:
    """One forbidden import in a copy of the tree makes lint-imports fail, naming the contract."""
    for package in ("autumn_async", "autumn_sync", "autumn_emulator"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path, line, expected = CASES[case]
    target = tmp_path / path
    target.write_text(target.read_text() + "\n" + line)
    proc = _lint(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # Older import-linter releases colour their output even when it is not a terminal.
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    for text in expected:
        assert text in output, output
