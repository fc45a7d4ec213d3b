"""`make package`: the release artefacts are what we say they are.

1. Build the sdist and the wheel twice with the same ``SOURCE_DATE_EPOCH`` (the last commit's
   time) and require byte-identical files: the build is reproducible.
2. ``twine check --strict``: the metadata and the README render on a package index.
3. The wheel holds only the runtime packages (``autumn_async``, ``autumn_sync``,
   ``autumn_emulator``) and its metadata, with the MIT LICENSE and the console script.
4. Install the wheel into a fresh venv and, from a directory outside the checkout, start the
   emulator with the ``autumn-emulator`` console script and run ``examples/quickstart.py``,
   ``examples/quickstart_async.py`` and ``examples/demo.py`` against it.

Exits non-zero with a message on the first thing that is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PACKAGES = {"autumn_async", "autumn_sync", "autumn_emulator"}
SECRET = "am_sk_test_package"


def fail(message: str) -> None:
    """Stop with ``message``."""
    sys.exit(f"check_package: {message}")


def source_date_epoch() -> str:
    """The last commit's time, so every build of one commit is the same; 1980 outside git."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return os.environ["SOURCE_DATE_EPOCH"]
    git = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return git.stdout.strip() if git.returncode == 0 and git.stdout.strip() else "315532800"


def build(outdir: Path, epoch: str) -> dict[str, str]:
    """Build the sdist and wheel into ``outdir``; return {file name: sha256}."""
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(ROOT)],
        env={**os.environ, "SOURCE_DATE_EPOCH": epoch},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(outdir.iterdir())}


def check_wheel_contents(wheel: Path) -> None:
    """Only the runtime packages, the license and the entry points are in the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        tops = {name.split("/")[0] for name in names} - {dist_info}
        if tops != RUNTIME_PACKAGES:
            fail(f"the wheel holds {sorted(tops)}, expected exactly {sorted(RUNTIME_PACKAGES)}")
        if any("__pycache__" in name or name.endswith(".pyc") for name in names):
            fail("the wheel contains compiled files")
        license_text = archive.read(f"{dist_info}/licenses/LICENSE").decode()
        if not license_text.startswith("MIT License"):
            fail("the wheel's LICENSE is not the MIT license")
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        for line in ("License-Expression: MIT", "Classifier: Operating System :: POSIX"):
            if line not in metadata.splitlines():
                fail(f"METADATA lacks {line!r}")
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
        if "autumn-emulator = autumn_emulator.__main__:main" not in entry_points:
            fail("the autumn-emulator console script is missing")
        for package in RUNTIME_PACKAGES - {"autumn_emulator"}:
            if f"{package}/py.typed" not in names:
                fail(f"{package}/py.typed is missing")


def install(wheel: Path, venv: Path) -> Path:
    """A fresh venv with only the wheel (and its dependencies); return its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        fail(f"pip could not install the wheel:\n{done.stdout}\n{done.stderr}")
    return python


def run_quickstarts(venv: Path, workdir: Path) -> None:
    """Start the emulator's console script, run the examples against it, stop it."""
    python = venv / "bin" / "python"
    for example in ("quickstart.py", "quickstart_async.py", "demo.py"):
        shutil.copy(ROOT / "examples" / example, workdir / example)
    where = subprocess.run(
        [str(python), "-c", "import autumn_async, autumn_sync, autumn_emulator as e; print(e)"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    if str(venv) not in where.stdout:
        fail(f"the examples would not import the installed wheel: {where.stdout}")
    seed = workdir / "seed.json"
    seed_document = {"features": [{"id": "messages"}], "customers": [{"id": "user_123"}]}
    seed.write_text(json.dumps(seed_document))
    command = [str(venv / "bin" / "autumn-emulator"), "--port", "0", "--secret-key", SECRET]
    emulator = subprocess.Popen(
        [*command, "--seed-file", str(seed)], cwd=workdir, stdout=subprocess.PIPE, text=True
    )
    try:
        assert emulator.stdout is not None
        line = emulator.stdout.readline().strip()
        if not line.startswith("Autumn emulator listening on "):
            fail(f"autumn-emulator did not start: {line!r}")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AUTUMN_SERVER_URL": line.rsplit(" ", 1)[1],
            "AUTUMN_SECRET_KEY": SECRET,
        }
        for example in ("quickstart.py", "quickstart_async.py", "demo.py"):
            print(f"check_package: running {example} from the installed wheel", flush=True)
            done = subprocess.run(
                [str(python), example],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                fail(f"{example} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        emulator.send_signal(signal.SIGINT)
        if emulator.wait(timeout=30) != 0:
            fail(f"autumn-emulator exited with {emulator.returncode}")
    finally:
        if emulator.poll() is None:
            emulator.kill()
            emulator.wait()


def main() -> None:
    """Run every check; print one line per stage."""
    epoch = source_date_epoch()
    with tempfile.TemporaryDirectory(prefix="autumn-package-") as tmp:
        work = Path(tmp)
        first, second = build(work / "a", epoch), build(work / "b", epoch)
        if first != second:
            fail(f"two builds differ (not reproducible): {first} != {second}")
        for name, digest in first.items():
            print(f"check_package: {name} sha256 {digest} (built twice, identical)")
        artefacts = sorted((work / "a").iterdir())
        subprocess.run(
            [sys.executable, "-m", "twine", "check", "--strict", *map(str, artefacts)],
            check=True,
        )
        wheel = next(p for p in artefacts if p.suffix == ".whl")
        check_wheel_contents(wheel)
        run_dir = work / "run"
        run_dir.mkdir()
        install(wheel, work / "venv")
        run_quickstarts(work / "venv", run_dir)
        dist = ROOT / "dist"
        dist.mkdir(exist_ok=True)
        for artefact in artefacts:
            shutil.copy(artefact, dist / artefact.name)
    print(f"check_package: ok; artefacts in {dist}")


if __name__ == "__main__":
    main()
