"""Every client option is checked when the client is built (issue 12 item 12), and is
read-only afterwards (issue 10 item 5): a bad value is a UsageError naming the option,
before anything is sent, and no error or repr ever shows credentials from a URL.

Today's failures these replace: ``keepalive_timeout="abc"`` sent the request and then
raised a raw TypeError; ``ssl="yes"`` a raw TypeError; CR/LF in ``x_api_version`` a raw
ValueError; a ``server_url`` with a query posted to ``/?tenant=1/v1/...``; one with
``user:password@`` a raw ValueError, and ``repr(client)`` showed the password.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from autumn_async import AsyncAutumn, RetryConfig, Timeout, UsageError
from autumn_emulator import Emulator
from autumn_sync import Autumn

SECRET = "am_sk_test_options0123456789"
PASSWORD = "hunter2pass"

BAD_OPTIONS: list[tuple[str, Any]] = [
    ("keepalive_timeout", "abc"),
    ("keepalive_timeout", -1),
    ("keepalive_timeout", 0),
    ("keepalive_timeout", math.nan),
    ("keepalive_timeout", math.inf),
    ("keepalive_timeout", True),
    ("ssl", "yes"),
    ("ssl", 1),
    ("ssl", None),
    ("x_api_version", "2.1\r\nX-Injected: 1"),
    ("x_api_version", "2.1\n"),
    ("x_api_version", "2.1\x00"),
    ("x_api_version", ""),
    ("x_api_version", 2.1),
    ("server_url", "https://api.test/?tenant=1"),
    ("server_url", "https://api.test/base#frag"),
    ("server_url", "https://api.test?"),
    ("server_url", f"https://user:{PASSWORD}@api.test"),
    ("server_url", f"http://{PASSWORD}@127.0.0.1:8787"),
    ("server_url", "ftp://api.test"),
    ("server_url", "api.test"),
    ("server_url", "https://"),
    ("server_url", "https://api.test:99999"),
    ("server_url", "https://api.test/a b"),
    ("server_url", "https://api.test/\r\nX: 1"),
    ("server_url", ""),
    ("server_url", 123),
    ("server_url", "http://api.example.com"),  # plain http to another machine
    ("max_connections", 0),
    ("max_connections", -1),
    ("max_connections", 1.5),
    ("max_connections", "10"),
    ("max_connections", True),
    ("timeout", -1),
    ("timeout", 0),
    ("timeout", "10"),
    ("timeout", math.nan),
    ("timeout", None),
    ("retry_config", "backoff"),
    ("fail_open", "yes"),
    ("fail_open", 1),
    ("transport", object()),
    ("proxy", "socks5://127.0.0.1:1080"),
    ("proxy", "not a url"),
    ("proxy", "http://127.0.0.1:3128/path?q=1"),
    ("proxy", 3128),
    ("trust_env", "yes"),
    ("allow_insecure_http", 1),
]


@pytest.mark.parametrize("client_class", [AsyncAutumn, Autumn])
@pytest.mark.parametrize(("name", "value"), BAD_OPTIONS, ids=[f"{n}={v!r}" for n, v in BAD_OPTIONS])
def test_a_bad_option_is_a_usage_error_naming_it(
    client_class: type[Any], name: str, value: Any
) -> None:
    """The UsageError names the option and never repeats a password from a URL."""
    with pytest.raises(UsageError) as info:
        client_class(secret_key=SECRET, **{name: value})
    error = info.value
    assert error.field is not None
    assert error.field.split(".")[0] == name, (error.field, str(error))
    assert PASSWORD not in str(error) + repr(error) + repr(error.__dict__)


def test_trust_env_with_a_caller_session_is_refused() -> None:
    """trust_env configures the client's own connections; a caller's session has its own."""
    aiohttp = pytest.importorskip("aiohttp")

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(UsageError) as info:
                AsyncAutumn(secret_key=SECRET, session=session, trust_env=True)
            assert info.value.field == "trust_env"
            with pytest.raises(UsageError) as info:
                AsyncAutumn(secret_key=SECRET, session="not a session")  # type: ignore[arg-type]
            assert info.value.field == "session"

    asyncio.run(scenario())


def test_server_url_from_the_environment_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTUMN_SERVER_URL obeys the same rules, and its credentials are never shown."""
    monkeypatch.setenv("AUTUMN_SERVER_URL", f"https://admin:{PASSWORD}@api.test")
    with pytest.raises(UsageError) as info:
        AsyncAutumn(secret_key=SECRET)
    assert info.value.field == "server_url"
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8787",
        "http://127.9.9.9",
        "http://localhost:8787/",
        "http://app.localhost",
        "http://[::1]:8787",
        "https://api.useautumn.com",
        "https://proxy.internal/autumn",
    ],
)
def test_loopback_http_and_any_https_are_allowed(url: str) -> None:
    """Plain http:// needs no opt-in on this machine; https:// never does."""
    assert AsyncAutumn(secret_key=SECRET, server_url=url).server_url == url.rstrip("/")


def test_plain_http_elsewhere_needs_an_explicit_opt_in() -> None:
    """allow_insecure_http=True is the one way to send the key in clear text over a network."""
    with pytest.raises(UsageError, match="allow_insecure_http") as info:
        Autumn(secret_key=SECRET, server_url="http://autumn.internal:8080")
    assert info.value.field == "server_url"
    client = Autumn(
        secret_key=SECRET, server_url="http://autumn.internal:8080", allow_insecure_http=True
    )
    assert client.allow_insecure_http is True
    assert client.server_url == "http://autumn.internal:8080"


OPTIONS = {
    "server_url": "https://other.test",
    "x_api_version": "2.2",
    "timeout": Timeout(total=1),
    "retry_config": RetryConfig("none"),
    "fail_open": True,
    "max_connections": 3,
    "keepalive_timeout": 1.0,
    "trust_env": True,
    "allow_insecure_http": True,
}


@pytest.mark.parametrize("client_class", [AsyncAutumn, Autumn])
@pytest.mark.parametrize("name", list(OPTIONS))
def test_options_are_read_only(client_class: type[Any], name: str) -> None:
    """Assigning an option raises instead of being silently ignored after the first call."""
    client = client_class(secret_key=SECRET, server_url="http://127.0.0.1:9")
    before = getattr(client, name)
    with pytest.raises(AttributeError):
        setattr(client, name, OPTIONS[name])
    assert getattr(client, name) == before


async def test_the_options_given_are_the_options_used() -> None:
    """What the properties report is what reaches the server (version header, URL)."""
    async with Emulator(secret_key=SECRET) as emu:
        await emu.add_feature("messages")
        await emu.add_customer("c")
        async with AsyncAutumn(
            secret_key=SECRET,
            server_url=emu.url + "/",
            x_api_version="2.1",
            keepalive_timeout=2,
            max_connections=2,
        ) as autumn:
            assert autumn.server_url == emu.url
            assert autumn.keepalive_timeout == 2.0
            assert isinstance(autumn.timeout, Timeout)
            result = await autumn.balances.check(customer_id="c", feature_id="messages")
        assert result.customer_id == "c"
