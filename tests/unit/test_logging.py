"""The SDK logs under its own namespace, ``autumn_balances``, and prints nothing by itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from autumn_async._log import AREAS, ROOT_LOGGER

PACKAGES = Path(__file__).parents[2]
GET_LOGGER = re.compile(r"getLogger\((.*?)\)|sdk_logger\((.*?)\)")


def test_every_logger_in_the_packages_is_an_sdk_area_or_the_emulators() -> None:
    """No module logs on ``autumn`` (the autumn-python SDK's) or any other foreign name."""
    found = {}
    for package in ("autumn_async", "autumn_sync", "autumn_emulator"):
        for path in (PACKAGES / package).rglob("*.py"):
            for match in GET_LOGGER.finditer(path.read_text(encoding="utf-8")):
                found[f"{path.name}: {match.group(0)}"] = match.group(1) or match.group(2)
    assert found, "no loggers found: the pattern is out of date"
    for where, argument in found.items():
        if where.startswith("_log.py"):
            continue  # the factory itself
        if where.startswith("_app.py"):
            assert argument == '"autumn_emulator"', where
        else:
            assert argument.strip('"') in AREAS, where


def test_unconfigured_logging_prints_nothing_but_records_still_propagate() -> None:
    """With logging unconfigured a fail-open WARNING is not printed; configured, it arrives."""
    script = """
import logging, sys
from autumn_async._log import sdk_logger
root = logging.getLogger("autumn_balances")
assert any(isinstance(h, logging.NullHandler) for h in root.handlers), root.handlers
sdk_logger("fail_open").warning("silent unless configured")
logging.basicConfig(stream=sys.stdout, format="%(name)s %(message)s")
sdk_logger("batcher").warning("now shown")
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout == f"{ROOT_LOGGER}.batcher now shown\n"
