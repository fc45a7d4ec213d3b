"""What installing autumn-balances costs an unrelated test suite's ``pytest --co``.

Method: a tiny project (one file, 50 trivial tests, no conftest) in a temporary folder;
``python -m pytest --co -q -p no:cacheprovider`` runs there ``--rounds`` times with the
plugin loaded (as any project in an environment with the package installed gets it) and
as many times with ``-p no:autumn_emulator``, which makes pytest skip the entry point
before importing anything (the same as not installed), interleaved so that machine load
hits both alike. Prints the median and quartiles of the wall time of each, and the
difference of the medians.

Run: ``.venv/bin/python benchmarks/plugin_overhead.py [--rounds 21]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = "\n".join(f"def test_{i}():\n    assert {i} == {i}\n" for i in range(50))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cwd: Path, extra: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``pytest --co``; CPU time is what load does not inflate."""
    command = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *extra]
    cpu, started = _cpu(), time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started, _cpu() - cpu


def _summary(times: list[float]) -> str:
    q1, median, q3 = statistics.quantiles(times, n=4)
    return f"median {median * 1000:.0f} ms (quartiles {q1 * 1000:.0f}-{q3 * 1000:.0f} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=21)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "test_tiny.py").write_text(TESTS)
        (cwd / "pytest.ini").write_text("[pytest]\n")
        _run(cwd, [])  # warm the file cache and the bytecode
        with_plugin: list[tuple[float, float]] = []
        without: list[tuple[float, float]] = []
        for _ in range(rounds):
            with_plugin.append(_run(cwd, []))
            without.append(_run(cwd, ["-p", "no:autumn_emulator"]))
    print(f"pytest --co, 50 tests, {rounds} interleaved rounds")
    for index, kind in enumerate(("wall", "CPU")):
        loaded = [t[index] for t in with_plugin]
        skipped = [t[index] for t in without]
        diff = statistics.median(loaded) - statistics.median(skipped)
        print(f"  {kind} time, plugin loaded:  {_summary(loaded)}")
        print(f"  {kind} time, plugin skipped: {_summary(skipped)}")
        print(f"  {kind} time, difference of medians: {diff * 1000:+.0f} ms")


if __name__ == "__main__":
    main()
