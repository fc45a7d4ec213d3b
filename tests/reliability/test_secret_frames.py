"""No frame an error travels through holds the secret key (issue 12 item 2).

Tracebacks rendered with locals (``traceback.TracebackException(capture_locals=True)``,
``pytest --showlocals``) and error trackers (Sentry captures every frame's locals, one
or two levels into dicts and lists, and its scrubber misses a key one level down) must
never show the key. Every error path is provoked for real, for both clients: refused
connection, timeouts (answer and pool wait), a dropped connection, HTTP errors,
redirects, a body that does not fit, a body too large, malformed HTTP, bad arguments.
"""

from __future__ import annotations

import asyncio
import socket
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

import pytest

from autumn_async import AsyncAutumn, AutumnError, UsageError
from autumn_emulator import Emulator

from ._servers import RawRequest, RawServer, respond
from .test_secret_leaks import assert_clean

KEY = "am_sk_test_Zq8sECRETv4lue0123456789"
CUSTOMER = "cus_frames"

Script = Callable[[RawRequest, asyncio.StreamWriter, int], Awaitable[None]]


def _fixed(status: int, body: bytes, **kwargs: Any) -> Script:
    async def script(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
        await respond(writer, status, body, **kwargs)

    return script


async def _hang(_: RawRequest, _w: asyncio.StreamWriter, _i: int) -> None:
    await asyncio.sleep(3600)


async def _drop(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.transport.abort()


async def _malformed(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nthis header line has no colon\r\n\r\n")
    await writer.drain()


async def _too_large(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    await respond(writer, 200, b"", content_length=64 * 1024 * 1024)


#: Raw loopback answers, one per error path.
RAW: dict[str, Script] = {
    "timeout": _hang,
    "dropped_after_sending": _drop,
    "malformed_http": _malformed,
    "too_large": _too_large,
    "wrong_types": _fixed(200, b'{"allowed": "yes", "customer_id": 7}'),
    "http_401": _fixed(401, b'{"message": "Invalid secret key", "code": "invalid_secret_key"}'),
    "http_429": _fixed(429, b"Too many requests", content_type="text/plain"),
    "http_500": _fixed(500, b'{"message": "boom", "code": "internal_error"}'),
    "redirect": _fixed(307, b"", headers={"Location": "https://elsewhere.test/"}),
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _walk(value: object, depth: int) -> Iterator[str]:
    """What an error tracker renders of a local: its repr, and containers' items."""
    yield repr(value)
    if depth == 0:
        return
    if isinstance(value, Mapping):
        for key, item in list(value.items()):
            yield from _walk(key, depth - 1)
            yield from _walk(item, depth - 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in list(value):
            yield from _walk(item, depth - 1)


def _tracebacks(exc: BaseException) -> Iterator[TracebackType]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__traceback__ is not None:
            yield current.__traceback__
        current = current.__cause__ or current.__context__


def assert_frames_clean(exc: BaseException) -> int:
    """The key is in no rendering of the error with locals; returns the frames walked."""
    rendered = traceback.TracebackException.from_exception(exc, capture_locals=True)
    assert_clean("".join(rendered.format()))
    frames = 0
    for tb in _tracebacks(exc):
        walker: TracebackType | None = tb
        while walker is not None:
            frames += 1
            for name, value in walker.tb_frame.f_locals.items():
                assert_clean(name, *_walk(value, 2))
            walker = walker.tb_next
    return frames


async def _catch(call: Callable[[], Awaitable[object]]) -> BaseException:
    """The error ``call()`` raises. The traceback starts in this frame, as it would in
    a caller's (the test's own frames hold servers that recorded the key they received)."""
    try:
        await call()
    except AutumnError as exc:
        return exc
    raise AssertionError("no error")


async def _emulator_errors() -> dict[str, BaseException]:
    """HTTP errors from the emulator: 404 (unknown customer) and 400 (validation)."""
    errors: dict[str, BaseException] = {}
    async with Emulator(secret_key=KEY) as emu:
        await emu.add_feature("messages")
        await emu.add_customer(CUSTOMER)
        async with AsyncAutumn(secret_key=KEY, server_url=emu.url, retry_config=None) as a:
            errors["http_404"] = await _catch(
                lambda: a.balances.check(customer_id="nobody", feature_id="messages")
            )
            errors["http_400"] = await _catch(
                lambda: a.balances.create(customer_id=CUSTOMER, feature_id="messages")
            )
    return errors


async def _raw_error(script: Script, **options: Any) -> BaseException:
    async with (
        RawServer(script) as server,
        AsyncAutumn(
            secret_key=KEY, server_url=server.url, retry_config=None, timeout=0.3, **options
        ) as autumn,
    ):
        return await _catch(lambda: autumn.balances.track(customer_id="c", feature_id="f", value=1))


async def _pool_wait_error() -> BaseException:
    async with (
        RawServer(_hang) as server,
        AsyncAutumn(
            secret_key=KEY, server_url=server.url, retry_config=None, max_connections=1
        ) as autumn,
    ):
        first = asyncio.ensure_future(autumn.balances.check(customer_id="c", feature_id="f"))
        while not server.requests:
            await asyncio.sleep(0.01)
        try:
            return await _catch(
                lambda: autumn.balances.check(customer_id="c", feature_id="f", timeout=0.2)
            )
        finally:
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)


async def _async_errors() -> dict[str, BaseException]:
    errors = await _emulator_errors()
    for name, script in RAW.items():
        errors[name] = await _raw_error(script)
    errors["pool_wait_timeout"] = await _pool_wait_error()
    url = f"http://127.0.0.1:{_closed_port()}"
    async with AsyncAutumn(secret_key=KEY, server_url=url, retry_config=None) as autumn:
        errors["connection_refused"] = await _catch(
            lambda: autumn.balances.check(customer_id="c", feature_id="f")
        )
        errors["usage_error"] = await _catch(
            lambda: autumn.balances.track(customer_id="c\n", feature_id="f")
        )
    return errors


async def test_async_client_error_paths_keep_the_key_out_of_frames() -> None:
    """Every error path of AsyncAutumn, rendered with locals and walked like Sentry."""
    errors = await _async_errors()
    assert set(errors) == {
        *RAW,
        "http_404",
        "http_400",
        "pool_wait_timeout",
        "connection_refused",
        "usage_error",
    }
    for name, exc in errors.items():
        assert assert_frames_clean(exc) >= 1, name


def test_sync_client_error_paths_keep_the_key_out_of_frames() -> None:
    """The same paths through autumn_sync.Autumn (frames of the caller's thread too)."""
    from autumn_sync import Autumn

    errors: dict[str, BaseException] = {}

    def provoke(name: str, url: str, **options: Any) -> None:
        with Autumn(secret_key=KEY, server_url=url, retry_config=None, **options) as autumn:
            try:
                autumn.balances.track(customer_id="c", feature_id="f", value=1)
            except AutumnError as exc:
                errors[name] = exc

    async def serve(name: str, script: Script) -> None:
        async with RawServer(script) as server:
            await asyncio.to_thread(provoke, name, server.url, timeout=0.3)

    async def scenario() -> None:
        for name, script in RAW.items():
            await serve(name, script)

    asyncio.run(scenario())
    provoke("connection_refused", f"http://127.0.0.1:{_closed_port()}")
    with Autumn(secret_key=KEY, server_url="http://127.0.0.1:9") as autumn:
        try:
            autumn.balances.check(customer_id="", feature_id="f")
        except AutumnError as exc:
            errors["usage_error"] = exc
    assert set(errors) == {*RAW, "connection_refused", "usage_error"}
    for name, exc in errors.items():
        assert assert_frames_clean(exc) >= 2, name


CONSTRUCTION_ERRORS: dict[str, dict[str, Any]] = {
    "malformed_key": {"secret_key": KEY + "\n"},
    "key_with_a_space": {"secret_key": KEY[:10] + " " + KEY[10:]},
    "bad_server_url": {"server_url": "https://api.test/?tenant=1"},
    "plain_http_elsewhere": {"server_url": "http://autumn.internal"},
    "bad_option": {"max_connections": 0},
    "bad_proxy": {"proxy": "socks5://127.0.0.1:1"},
}


@pytest.mark.parametrize("client", ["async", "sync"])
@pytest.mark.parametrize("case", list(CONSTRUCTION_ERRORS))
def test_construction_errors_keep_the_key_out_of_frames(client: str, case: str) -> None:
    """A misconfigured client (bad key, URL or option) fails without the key in any frame."""
    from autumn_sync import Autumn

    options = {"secret_key": KEY, **CONSTRUCTION_ERRORS[case]}
    client_class: Any = AsyncAutumn if client == "async" else Autumn
    try:
        client_class(**options)
    except UsageError as exc:
        error = exc
    else:
        raise AssertionError("no UsageError")
    del options  # the test's own frame held the key it passed
    assert assert_frames_clean(error) >= 2
