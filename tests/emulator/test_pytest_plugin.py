"""The pytest plugin: free to load, and clear when pytest-asyncio is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLUGIN_FREE = """
import sys
import autumn_emulator.pytest_plugin
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("aiohttp", "yarl", "multidict"))
emulator = sorted(m for m in sys.modules if m.startswith("autumn_emulator._"))
sdk = sorted(m for m in sys.modules if m.startswith(("autumn_async", "autumn_sync")))
assert not heavy, heavy
assert not emulator, emulator
assert not sdk, sdk
"""

USES_ASYNC_FIXTURE = '''
def test_uses_the_async_fixture(autumn_emulator):
    """Requests the async fixture from a plain test."""
'''

#: Shadows the installed pytest-asyncio, as if it were not installed.
NOT_INSTALLED = 'raise ImportError("No module named pytest_asyncio")\n'


def test_loading_the_plugin_imports_no_aiohttp_and_no_emulator() -> None:
    """Importing the plugin module (what pytest does at start-up) loads nothing heavy."""
    proc = subprocess.run(
        [sys.executable, "-c", PLUGIN_FREE], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_the_async_fixture_without_pytest_asyncio_says_what_is_missing(tmp_path: Path) -> None:
    """Without pytest-asyncio the async fixture fails naming it, not "fixture not found"."""
    (tmp_path / "test_it.py").write_text(USES_ASYNC_FIXTURE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pytest_asyncio.py").write_text(NOT_INSTALLED)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:asyncio", "-p", "no:cacheprovider", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(shadow)},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "needs pytest-asyncio" in proc.stdout
    assert "autumn_emulator_thread" in proc.stdout
    assert "fixture 'autumn_emulator' not found" not in proc.stdout
