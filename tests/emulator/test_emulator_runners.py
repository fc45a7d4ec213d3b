"""The three ways to run the emulator: CLI process, thread, pytest fixtures."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from autumn_emulator import Emulator, EmulatorThread


def _post(url: str, body: Any, key: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "x-api-version": "2.1"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_cli_serves_on_a_free_port_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    """The CLI prints its URL, serves seeded data and exits 0 on SIGINT with no stderr."""
    seed = {
        "features": [{"id": "messages", "type": "metered"}],
        "customers": [{"id": "c1"}],
        "balances": [{"customer_id": "c1", "feature_id": "messages", "included_grant": 5}],
    }
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))
    command = [
        sys.executable,
        "-m",
        "autumn_emulator",
        "--port",
        "0",
        "--secret-key",
        "am_sk_test_cli",
        "--seed-file",
        str(seed_file),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Autumn emulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert not url.endswith(":0")
        body = {"customer_id": "c1", "feature_id": "messages"}
        status, answer = _post(url + "/v1/balances.check", body, "am_sk_test_cli")
        assert (status, answer["allowed"], answer["balance"]["remaining"]) == (200, True, 5)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert err == ""


def test_emulator_thread_serves_sync_callers() -> None:
    """EmulatorThread runs the server on its own loop with blocking helpers."""
    with EmulatorThread(secret_key="am_sk_test_thread") as emu:
        emu.add_feature("messages")
        emu.add_customer("c1")
        emu.add_balance(customer_id="c1", feature_id="messages", included_grant=3)
        body = {"customer_id": "c1", "feature_id": "messages", "value": 2}
        status, answer = _post(emu.url + "/v1/balances.track", body, emu.secret_key)
        assert (status, answer["balance"]["remaining"]) == (200, 1)
        assert [event["value"] for event in emu.ledger()] == [2]
        assert emu.balances("c1")["messages"]["usage"] == 2
        emu.reset()
        assert emu.ledger() == []


async def test_emulator_context_manager_exposes_url_and_key() -> None:
    """Emulator starts on a free loopback port and stops on exit."""
    async with Emulator() as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        assert emu.secret_key == "am_sk_test"
        url = emu.url
    async with aiohttp.ClientSession() as session:
        try:
            async with session.post(url + "/v1/balances.check", json={}):
                raise AssertionError("the emulator still answers after exit")
        except aiohttp.ClientConnectionError:
            pass


async def test_async_pytest_fixture_yields_a_running_emulator(autumn_emulator: Emulator) -> None:
    """The autumn_emulator fixture yields a started Emulator with the fixture key."""
    await autumn_emulator.add_feature("messages")
    headers = {"Authorization": f"Bearer {autumn_emulator.secret_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            autumn_emulator.url + "/v1/balances.check",
            json={"customer_id": "c1", "feature_id": "messages"},
            headers=headers,
        ) as response,
    ):
        assert response.status == 404  # the customer was never created


def test_sync_pytest_fixture_yields_a_running_thread(
    autumn_emulator_thread: EmulatorThread,
) -> None:
    """The autumn_emulator_thread fixture yields a started EmulatorThread."""
    autumn_emulator_thread.add_feature("messages")
    status, customer = _post(
        autumn_emulator_thread.url + "/v1/customers", {"id": "c1"}, "am_sk_test"
    )
    assert (status, customer["id"]) == (200, "c1")
