"""An orjson older than 3.9.15 (which crashes on deeply nested JSON) is never used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import autumn_async._serde as serde
assert serde._HAS_ORJSON is False, "an orjson below the floor was used"
try:
    serde.loads(b"[" * 200_000 + b"]" * 200_000)
except serde.SerdeError as exc:
    print("refused:", exc)
"""


def test_an_orjson_below_the_floor_falls_back_to_the_standard_library(tmp_path: Path) -> None:
    """With orjson 3.9.0 importable, deep nesting is refused by stdlib json, not a crash."""
    (tmp_path / "orjson.py").write_text(
        '__version__ = "3.9.0"\n'
        "def loads(body):\n"
        "    raise SystemExit('the old orjson was called')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", CHECK],
        env={"PYTHONPATH": f"{tmp_path}:{Path(__file__).parents[2]}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "refused: response body is not valid JSON: nested too deeply" in proc.stdout
