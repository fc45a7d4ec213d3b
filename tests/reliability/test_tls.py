"""TLS: certificates are verified by default; a self-signed server is refused unless the
caller passes an ``ssl.SSLContext`` that trusts it.

The certificate is made at test time with the ``openssl`` command (skipped without it).
"""

from __future__ import annotations

import inspect
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from autumn_async import APIConnectionError, AsyncAutumn

KEY = "am_sk_test_tls_0123456789"
ANSWER = {"allowed": True, "customer_id": "c"}


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key_file),
            "-out",
            str(cert_file),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert_file, key_file


class TlsServer:
    """An HTTPS loopback server with a self-signed certificate; counts requests served."""

    def __init__(self) -> None:
        self.url = ""
        self.served = 0

    async def handle(self, _: web.Request) -> web.Response:
        self.served += 1
        return web.json_response(ANSWER)


@pytest.fixture
async def server(cert: tuple[Path, Path]) -> AsyncIterator[TlsServer]:
    cert_file, key_file = cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    tls = TlsServer()
    app = web.Application()
    app.router.add_post("/v1/balances.check", tls.handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    tls.url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    yield tls
    await runner.cleanup()


def test_verification_is_on_by_default() -> None:
    """The ``ssl`` option defaults to ``True``: verify against the system's trust store."""
    assert inspect.signature(AsyncAutumn).parameters["ssl"].default is True


@pytest.mark.parametrize("option", ["default", True, "system_context"])
async def test_self_signed_server_is_refused(server: TlsServer, option: object) -> None:
    """Without the caller's own trust, the connection is refused and nothing is sent."""
    kwargs: dict[str, object] = {}
    if option is True:
        kwargs["ssl"] = True
    elif option == "system_context":
        kwargs["ssl"] = ssl.create_default_context()
    async with AsyncAutumn(
        secret_key=KEY, server_url=server.url, retry_config=None, **kwargs
    ) as autumn:
        with pytest.raises(APIConnectionError) as info:
            await autumn.balances.check(customer_id="c", feature_id="f")
    assert info.value.maybe_applied is False
    assert "certificate" in str(info.value).lower()
    assert server.served == 0


async def test_callers_context_is_trusted(server: TlsServer, cert: tuple[Path, Path]) -> None:
    """An ``ssl.SSLContext`` that trusts the certificate lets the call through, verified."""
    context = ssl.create_default_context(cafile=str(cert[0]))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    async with AsyncAutumn(
        secret_key=KEY, server_url=server.url, retry_config=None, ssl=context
    ) as autumn:
        result = await autumn.balances.check(customer_id="c", feature_id="f")
    assert result.allowed is True
    assert server.served == 1


async def test_hostname_is_checked(cert: tuple[Path, Path]) -> None:
    """A trusted certificate for another name is still refused (hostname checking is on)."""
    cert_file, key_file = cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    tls = TlsServer()
    app = web.Application()
    app.router.add_post("/v1/balances.check", tls.handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0, ssl_context=context)
    await site.start()
    try:
        url = f"https://localhost:{runner.addresses[0][1]}"
        trust = ssl.create_default_context(cafile=str(cert_file))
        async with AsyncAutumn(
            secret_key=KEY, server_url=url, retry_config=None, ssl=trust
        ) as autumn:
            with pytest.raises(APIConnectionError) as info:
                await autumn.balances.check(customer_id="c", feature_id="f")
    finally:
        await runner.cleanup()
    assert "hostname mismatch" in str(info.value) or "match" in str(info.value), info.value
    assert tls.served == 0


def test_sync_client_verifies_too(cert: tuple[Path, Path]) -> None:
    """The blocking client takes the same ``ssl`` option with the same default."""
    autumn_sync = pytest.importorskip("autumn_sync")
    try:
        autumn_cls = autumn_sync.Autumn
    except (AttributeError, ImportError):
        pytest.skip("autumn_sync.Autumn is not written yet")
    parameter = inspect.signature(autumn_cls).parameters.get("ssl")
    assert parameter is not None
    assert parameter.default is True
