"""README "Running a fleet", "Trying it locally": its seed, its producer snippet and a
worker deliver every event once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autumn_emulator import EmulatorThread
from autumn_emulator.__main__ import load_seed

from .conftest import ROOT, Workers, assert_exactly_once, until
from .redis_server import RedisServer

pytestmark = pytest.mark.slow


def recipe() -> tuple[dict[str, object], str]:
    """The seed document and the producer program of the README's local recipe."""
    readme = (ROOT / "README.md").read_text()
    text = readme[readme.index("**Trying it locally**") :]
    text = text[: text.index("\n```\n", text.index("```bash"))]
    seed = re.search(r"echo '(\{.*\})' > seed.json", text)
    producer = re.search(r"python -c '(.*?)'\n", text, re.S)
    assert seed is not None and producer is not None
    return json.loads(seed.group(1)), producer.group(1)


def test_readme_local_recipe_delivers_every_event_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    seed, producer = recipe()
    emulator = EmulatorThread()
    load_seed(emulator.emulator, seed)
    with emulator as emu:
        workers = Workers(redis_server, emu, tmp_path)
        try:
            worker = workers.start(lease=30.0, drain=2.0)
            env = {
                **os.environ,
                "AUTUMN_SECRET_KEY": emu.secret_key,
                "AUTUMN_SERVER_URL": emu.url,
                "AUTUMN_REDIS_URL": redis_server.url,
            }
            assert "127.0.0.1:6379" not in producer  # it reads AUTUMN_REDIS_URL
            subprocess.run([sys.executable, "-c", producer], cwd=ROOT, env=env, check=True)

            async def all_delivered() -> bool:
                return len(emu.ledger()) >= 100

            asyncio.run(until(all_delivered, timeout=30))
            assert workers.terminate(worker) == 0
        finally:
            workers.cleanup()
        ledger = emu.ledger()
        assert len(ledger) == 100
        assert_exactly_once(ledger, {e["idempotency_key"] for e in ledger})
        assert emu.balances("c1")["messages"]["usage"] == 100


def test_readme_local_recipe_keeps_redis_off_the_checkout_and_tears_down() -> None:
    readme = (ROOT / "README.md").read_text()
    text = readme[readme.index("**Trying it locally**") :]
    text = text[: text.index("\n```\n", text.index("```bash"))]
    server = next(line for line in text.splitlines() if line.startswith("redis-server "))
    assert '--dir "$TRY"' in server and "--bind 127.0.0.1" in server
    assert "TRY=$(mktemp -d)" in text
    for step in ('kill "$WORKER"', 'kill "$EMULATOR"', "shutdown nosave", 'rm -rf "$TRY"'):
        assert step in text
