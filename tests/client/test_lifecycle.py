"""Client lifecycle: loops, forks, closing, leaks, lazy imports."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from autumn_async import AsyncAutumn, UsageError

from .._aioresponses_compat import compat_aioresponses
from ..conftest import BASE, SECRET, example

SCRIPTS = Path(__file__).parent / "scripts"
CHECK = f"{BASE}/v1/balances.check"


def test_one_client_across_two_asyncio_runs() -> None:
    """The same client works in two asyncio.run calls, each with its own pool, and leaks nothing."""
    autumn = AsyncAutumn(secret_key=SECRET, server_url=BASE)
    with compat_aioresponses() as mock:
        mock.post(
            CHECK, payload=example("balances_check_response_metered_allowed.json"), repeat=True
        )

        async def call() -> bool:
            return (await autumn.balances.check(customer_id="c", feature_id="f")).allowed

        assert asyncio.run(call())
        assert asyncio.run(call())
    # Each loop's shutdown closed its own pool: nothing is left open.
    transport = autumn.pipeline.transport_built
    assert transport is not None
    assert not transport.has_open_sessions
    asyncio.run(autumn.aclose())


def test_fork_child_gets_its_own_pool() -> None:
    """After os.fork() the child makes calls on a fresh pool; the parent's keeps working."""
    proc = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(SCRIPTS / "fork_async_client.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert proc.stderr == ""


def test_import_does_not_load_aiohttp_or_sync() -> None:
    """import autumn_async loads neither aiohttp (until the first request) nor autumn_sync."""
    code = (
        "import sys, autumn_async; "
        "assert 'aiohttp' not in sys.modules, 'aiohttp'; "
        "assert 'autumn_sync' not in sys.modules, 'sync'; "
        "assert 'cattrs' not in sys.modules, 'cattrs'"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


async def test_warm_up_opens_the_pool_off_loop() -> None:
    """warm_up() imports the transport and opens this loop's pool before the first call."""
    async with AsyncAutumn(secret_key=SECRET, server_url=BASE) as autumn:
        await autumn.warm_up()
        transport = autumn.pipeline.transport_built
        assert transport is not None
        assert transport.has_open_sessions


async def test_async_context_manager_closes() -> None:
    """Leaving 'async with' closes the client."""
    async with AsyncAutumn(secret_key=SECRET, server_url=BASE) as autumn:
        assert not autumn.closed
    assert autumn.closed


async def test_caller_session_is_never_closed() -> None:
    """A caller-owned aiohttp session is used as is and left open by aclose()."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        with compat_aioresponses() as mock:
            mock.post(CHECK, payload=example("balances_check_response_metered_allowed.json"))
            async with AsyncAutumn(secret_key=SECRET, server_url=BASE, session=session) as autumn:
                await autumn.balances.check(customer_id="c", feature_id="f")
            call = next(iter(mock.requests.values()))[0]
        assert not session.closed
        assert call.kwargs["headers"]["Authorization"] == f"Bearer {SECRET}"


def test_leaked_client_warns() -> None:
    """A client dropped with an open pool emits a ResourceWarning."""

    async def leak() -> None:
        autumn = AsyncAutumn(secret_key=SECRET, server_url=BASE)
        await autumn.warm_up()
        with pytest.warns(ResourceWarning, match="never closed"):
            autumn.__del__()
        await autumn.aclose()

    asyncio.run(leak())


def test_missing_secret_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret_key and no AUTUMN_SECRET_KEY: a UsageError that says how to fix it."""
    monkeypatch.delenv("AUTUMN_SECRET_KEY", raising=False)
    with pytest.raises(UsageError, match="AUTUMN_SECRET_KEY"):
        AsyncAutumn()


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """secret_key and server_url fall back to the environment, then to the public API."""
    monkeypatch.setenv("AUTUMN_SECRET_KEY", SECRET)
    monkeypatch.delenv("AUTUMN_SERVER_URL", raising=False)
    assert AsyncAutumn().server_url == "https://api.useautumn.com"
    monkeypatch.setenv("AUTUMN_SERVER_URL", "http://localhost:9/")
    assert AsyncAutumn().server_url == "http://localhost:9"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"secret_key": ""}, "secret_key"),
        ({"secret_key": "am_sk_x\nInjected: 1"}, "secret_key"),
        ({"server_url": "ftp://x"}, "server_url"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.0}, "timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"retry_config": "fast"}, "retry_config"),
        ({"x_api_version": ""}, "x_api_version"),
    ],
)
def test_bad_options_are_usage_errors(kwargs: dict[str, object], field: str) -> None:
    """Each bad client option is refused, naming the option."""
    options: dict[str, object] = {"secret_key": SECRET, "server_url": BASE, **kwargs}
    with pytest.raises(UsageError) as info:
        AsyncAutumn(**options)  # type: ignore[arg-type]
    assert info.value.field == field
    assert "Injected" not in str(info.value)
