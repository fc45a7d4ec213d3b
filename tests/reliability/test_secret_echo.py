"""A server that echoes the key back never puts it into an error or a log (issue 12 item 3).

Each loopback server below reads the key from the request's ``Authorization`` header and
sends it back: in a JSON message (plain and ``\\u``-escaped), a text body, response
headers, a redirect's ``Location``, a success body that does not fit, a broken status
line, or cut short. Every rendering of the error (text, repr, ``.body``, ``.headers``,
pickle, traceback) and every DEBUG log record must be free of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from collections.abc import Awaitable, Callable

import pytest

from autumn_async import AsyncAutumn, AutumnDefaultError, AutumnError, ResponseValidationError

from ._servers import RawRequest, RawServer, respond
from .test_secret_leaks import KEY, assert_clean, assert_logs_clean, error_texts

Script = Callable[[RawRequest, asyncio.StreamWriter, int], Awaitable[None]]


def _key(request: RawRequest) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


def _escaped(text: str) -> str:
    return "".join(f"\\u{ord(ch):04x}" for ch in text)


async def _json_401(request: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    key = _key(request)
    body = json.dumps({"message": f"Invalid secret key: {key}", "code": "invalid_secret_key"})
    headers = {
        "WWW-Authenticate": f'Bearer error="invalid_token", token="{key}"',
        "X-Echo-Authorization": f"Bearer {key}",
    }
    await respond(writer, 401, body.encode(), headers=headers)


async def _escaped_401(request: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    body = (
        '{"message": "bad key '
        + _escaped(_key(request))
        + '", "code": "'
        + _escaped(_key(request))
        + '"}'
    )
    await respond(writer, 401, body.encode())


async def _text_429(request: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    await respond(writer, 429, f"slow down, {_key(request)}".encode(), content_type="text/plain")


async def _cut_500(request: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    # A key cut and masked badly: most of it still shows.
    body = json.dumps({"message": f"crash for {_key(request)[:-4]}****", "code": "x"})
    await respond(writer, 500, body.encode())


async def _redirect(request: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    location = f"https://elsewhere.test/login?token={_key(request)}"
    await respond(writer, 302, b"", headers={"Location": location})


async def _wrong_types(request: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    body = json.dumps({"allowed": _key(request), "customer_id": 7})
    await respond(writer, 200, body.encode())


async def _bad_status_line(request: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(f"HTTP/1.1 200 OK {_key(request)}\r\nbroken line {_key(request)}\r\n\r\n".encode())
    await writer.drain()


ECHOES: dict[str, tuple[Script, type[AutumnError]]] = {
    "json_message_and_headers": (_json_401, AutumnDefaultError),
    "unicode_escaped_json": (_escaped_401, AutumnDefaultError),
    "text_body": (_text_429, AutumnDefaultError),
    "cut_and_masked": (_cut_500, AutumnDefaultError),
    "redirect_location": (_redirect, AutumnDefaultError),
    "success_body_that_does_not_fit": (_wrong_types, ResponseValidationError),
    "broken_status_line": (_bad_status_line, AutumnError),
}


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record of every logger, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.parametrize("case", list(ECHOES))
async def test_an_echoed_key_is_redacted(case: str, debug_log: pytest.LogCaptureFixture) -> None:
    """Text, repr, .body, .headers, pickle and logs: the echoed key is redacted."""
    script, error_type = ECHOES[case]
    async with (
        RawServer(script) as server,
        AsyncAutumn(secret_key=KEY, server_url=server.url, retry_config=None) as autumn,
    ):
        with pytest.raises(error_type) as info:
            await autumn.balances.check(customer_id="c", feature_id="f")
    error = info.value
    assert_clean(*error_texts(error))
    body = getattr(error, "body", "")
    headers = getattr(error, "headers", {})
    assert_clean(body, repr(headers), pickle.loads(pickle.dumps(error)).__dict__)
    if case != "broken_status_line":
        # Redacted, not dropped: the rest of what the server said is still there.
        assert "[redacted]" in str(error) + body + repr(headers)
    assert_logs_clean(debug_log)


def test_the_sync_client_redacts_too() -> None:
    """autumn_sync.Autumn raises the same redacted errors."""
    from autumn_sync import Autumn

    async def scenario() -> AutumnError:
        async with RawServer(_json_401) as server:

            def call() -> AutumnError:
                with Autumn(secret_key=KEY, server_url=server.url, retry_config=None) as autumn:
                    try:
                        autumn.balances.track(customer_id="c", feature_id="f")
                    except AutumnError as exc:
                        return exc
                raise AssertionError("no error")

            return await asyncio.to_thread(call)

    error = asyncio.run(scenario())
    assert isinstance(error, AutumnDefaultError)
    assert error.status_code == 401
    assert_clean(*error_texts(error), error.body, repr(error.headers))
    assert error.headers["X-Echo-Authorization"] == "Bearer [redacted]"
