"""Proxies (issue 12 item 17): off by default, ``proxy=`` or ``trust_env=True`` to use
one, on both clients, tested through a real loopback forward proxy.

By default the proxy environment variables are ignored (aiohttp's default; the README says
so). ``proxy="http://[user:password@]host:port"`` sends every request through that proxy
(``CONNECT`` for https://). ``trust_env=True`` reads ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
``ALL_PROXY`` / ``NO_PROXY`` when the client is built, and never ``~/.netrc``. Proxy
credentials never show in a repr or an error.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from autumn_async import APIConnectionError, AsyncAutumn
from autumn_emulator import Emulator
from autumn_sync import Autumn

from ._proxy import ForwardProxy
from .test_tls import TlsServer, cert, server  # noqa: F401 (fixtures)

KEY = "am_sk_test_proxy0123456789"
CUSTOMER = "cus_proxy"
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variable from the machine leaks into a test."""
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    """An emulator with one customer and 10 messages."""
    async with Emulator(secret_key=KEY) as emulator:
        await emulator.add_feature("messages")
        await emulator.add_customer(CUSTOMER)
        await emulator.add_balance(customer_id=CUSTOMER, feature_id="messages", included_grant=10)
        yield emulator


async def _check(autumn: AsyncAutumn) -> None:
    result = await autumn.balances.check(customer_id=CUSTOMER, feature_id="messages")
    assert result.allowed is True


async def test_proxy_option_sends_through_the_proxy(emu: Emulator) -> None:
    """proxy=... carries every request; credentials become Proxy-Authorization, unshown."""
    async with ForwardProxy() as proxy:
        host = proxy.url.removeprefix("http://")
        proxy_url = f"http://agent:s3cretpw@{host}"
        async with AsyncAutumn(secret_key=KEY, server_url=emu.url, proxy=proxy_url) as autumn:
            assert "s3cretpw" not in repr(autumn) + repr(vars(autumn))
            await _check(autumn)
            await autumn.balances.track(customer_id=CUSTOMER, feature_id="messages", value=2)
    assert [r.line.split(" ")[0] for r in proxy.requests] == ["POST", "POST"]
    assert proxy.requests[0].line.split(" ")[1] == f"{emu.url}/v1/balances.check"
    expected = "Basic " + base64.b64encode(b"agent:s3cretpw").decode()
    # The key is the origin's credential, never the proxy's.
    assert [r.proxy_authorization for r in proxy.requests] == [expected, expected]
    assert emu.ledger()[0]["value"] == 2


async def test_proxy_environment_is_ignored_by_default(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY set, trust_env left off: the proxy never sees a request."""
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with AsyncAutumn(secret_key=KEY, server_url=emu.url) as autumn:
            assert autumn.trust_env is False
            await _check(autumn)
    assert proxy.requests == []


async def test_trust_env_reads_the_proxy_variables(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trust_env=True uses HTTP_PROXY, and NO_PROXY exempts a host."""
    async with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        async with AsyncAutumn(secret_key=KEY, server_url=emu.url, trust_env=True) as autumn:
            await _check(autumn)
        assert len(proxy.requests) == 1
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with AsyncAutumn(secret_key=KEY, server_url=emu.url, trust_env=True) as autumn:
            await _check(autumn)
        assert len(proxy.requests) == 1


async def test_https_goes_through_a_connect_tunnel(
    server: TlsServer,  # noqa: F811 (the fixture)
    cert: tuple[Path, Path],  # noqa: F811
) -> None:
    """For https:// the proxy only sees CONNECT; TLS (and the key) stay end to end."""
    context = ssl.create_default_context(cafile=str(cert[0]))
    async with ForwardProxy() as proxy:
        async with AsyncAutumn(
            secret_key=KEY, server_url=server.url, ssl=context, proxy=proxy.url
        ) as autumn:
            result = await autumn.balances.check(customer_id="c", feature_id="f")
        assert result.allowed is True
    host = server.url.removeprefix("https://")
    assert [r.line for r in proxy.requests] == [f"CONNECT {host} HTTP/1.1"]
    assert server.served == 1
    # aiohttp copies a session's default headers onto CONNECT: the key must not be there.
    assert KEY not in proxy.requests[0].head


async def test_proxy_credentials_on_connect_and_never_the_key(
    server: TlsServer,  # noqa: F811 (the fixture)
    cert: tuple[Path, Path],  # noqa: F811
) -> None:
    """CONNECT carries the proxy's Basic credentials, and neither Authorization nor the key."""
    context = ssl.create_default_context(cafile=str(cert[0]))
    async with ForwardProxy() as proxy:
        proxy_url = "http://agent:s3cretpw@" + proxy.url.removeprefix("http://")
        async with AsyncAutumn(
            secret_key=KEY, server_url=server.url, ssl=context, proxy=proxy_url
        ) as autumn:
            await autumn.balances.check(customer_id="c", feature_id="f")
            await autumn.balances.check(customer_id="c", feature_id="f")
    expected = "Basic " + base64.b64encode(b"agent:s3cretpw").decode()
    assert [r.proxy_authorization for r in proxy.requests] == [expected]  # one tunnel, reused
    assert KEY not in proxy.requests[0].head
    assert "authorization: bearer" not in proxy.requests[0].head.lower()
    assert server.served == 2


async def test_an_unreachable_proxy_is_never_sent_and_hides_credentials() -> None:
    """A proxy that refuses connections: APIConnectionError, not sent, no password shown."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with AsyncAutumn(
        secret_key=KEY,
        server_url="https://api.useautumn.com",
        proxy=f"http://agent:s3cretpw@127.0.0.1:{port}",
        retry_config=None,
    ) as autumn:
        with pytest.raises(APIConnectionError) as info:
            await autumn.balances.check(customer_id="c", feature_id="f")
    assert info.value.maybe_applied is False
    assert "s3cretpw" not in str(info.value) + repr(info.value.__dict__)


def test_the_sync_client_takes_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """autumn_sync.Autumn has the same proxy= and trust_env= options."""

    async def scenario() -> None:
        async with Emulator(secret_key=KEY) as emu, ForwardProxy() as proxy:
            await emu.add_feature("messages")
            await emu.add_customer(CUSTOMER)

            def calls() -> None:
                with Autumn(secret_key=KEY, server_url=emu.url, proxy=proxy.url) as autumn:
                    autumn.balances.track(customer_id=CUSTOMER, feature_id="messages")
                monkeypatch.setenv("HTTP_PROXY", proxy.url)
                with Autumn(secret_key=KEY, server_url=emu.url, trust_env=True) as autumn:
                    autumn.balances.track(customer_id=CUSTOMER, feature_id="messages")

            await asyncio.to_thread(calls)
            assert len(proxy.requests) == 2
            assert len(emu.ledger()) == 2

    asyncio.run(scenario())


async def test_trust_env_never_reads_netrc(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A ~/.netrc entry for the server does not replace the key (aiohttp's trust_env would)."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with AsyncAutumn(secret_key=KEY, server_url=emu.url, trust_env=True) as autumn:
        await _check(autumn)  # the emulator accepts only the Bearer key
