"""The emulator's command line: clear errors for bad arguments and seed files, --version, and
a loud warning when it listens beyond loopback."""

from __future__ import annotations

import importlib.metadata
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autumn_emulator import Emulator
from autumn_emulator.__main__ import is_loopback, load_seed, main


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI with ``argv``, expect a usage error (status 2), return its last line."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_version_prints_the_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the installed autumn-balances version and exits 0."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    version = importlib.metadata.version("autumn-balances")
    assert capsys.readouterr().out.strip() == f"autumn-emulator {version}"


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("70000", "must be between 0 and 65535, got 70000"),
        ("-1", "must be between 0 and 65535, got -1"),
        ("http", "must be a whole number, got 'http'"),
    ],
)
def test_bad_port_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], port: str, message: str
) -> None:
    """An out-of-range or non-numeric --port is refused before anything starts."""
    assert _error(capsys, "--port", port).endswith(f"argument --port: {message}")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "not valid JSON: Expecting property name"),
        ("[]", "the document must be a JSON object"),
        ('{"plans": []}', "plans: unknown section (expected features, customers, balances)"),
        ('{"features": {}}', "features: must be an array"),
        ('{"features": [{"id": 1}]}', "features[0]: id: must be a string (received number)"),
        ('{"customers": [{"name": "x"}]}', "customers[0].id: must be a non-empty string"),
        ('{"customers": [{"id": "c", "entities": [3]}]}', "customers[0].entities[0]: must be"),
        (
            '{"features": [{"id": "m"}], "balances": [{"customer_id": "c", "feature_id": "x"}]}',
            "balances[0]: Feature x not found",
        ),
    ],
)
def test_bad_seed_file_names_the_file_and_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: str, message: str
) -> None:
    """A seed file that cannot be applied is one line naming the file and the field."""
    seed = tmp_path / "seed.json"
    seed.write_text(document)
    line = _error(capsys, "--port", "0", "--seed-file", str(seed))
    assert f"error: seed file {seed}: {message}" in line


def test_missing_seed_file_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A seed file that does not exist is a usage error naming it."""
    missing = tmp_path / "nope.json"
    assert f"seed file {missing}: cannot read it" in _error(capsys, "--seed-file", str(missing))


def test_port_in_use_is_one_line_and_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    """A port another process holds gives a one-line error and exit status 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"autumn-emulator: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("emulator.internal", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    """Only loopback addresses and ``localhost`` count as private to this machine."""
    assert is_loopback(host) is loopback


async def test_an_ipv6_host_gives_a_url_a_client_can_use() -> None:
    """``--host ::1`` printed ``http://::1:PORT``, which is not a URL: brackets are needed."""
    from autumn_async import AsyncAutumn

    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        emulator = Emulator(host="::1", port=0)
        await emulator.start()
    except OSError:
        pytest.skip("::1 cannot be bound here")
    try:
        assert emulator.url == f"http://[::1]:{emulator.port}"
        await emulator.add_feature("messages")
        await emulator.add_customer("c1")
        async with AsyncAutumn(secret_key=emulator.secret_key, server_url=emulator.url) as autumn:
            result = await autumn.balances.check(customer_id="c1", feature_id="messages")
        assert result.allowed is False
    finally:
        await emulator.aclose()


def test_non_loopback_host_warns_loudly_on_stderr() -> None:
    """Binding all interfaces prints a WARNING that the admin routes have no authentication."""
    command = [sys.executable, "-m", "autumn_emulator", "--host", "0.0.0.0", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Autumn emulator listening on http://")
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert err.startswith("WARNING: binding 0.0.0.0: the emulator's admin routes")
    assert "NO authentication" in err


def test_good_seed_file_is_applied(tmp_path: Path) -> None:
    """The README's seed shape loads: features, customers with entities, balances."""
    seed = {
        "features": [{"id": "messages"}],
        "customers": [{"id": "c1", "name": "One", "entities": ["e1", {"id": "e2"}]}],
        "balances": [{"customer_id": "c1", "feature_id": "messages", "included_grant": 5}],
    }
    emulator = Emulator()
    load_seed(emulator, json.loads(json.dumps(seed)))
    assert emulator.state.balances("c1")["messages"]["remaining"] == 5
