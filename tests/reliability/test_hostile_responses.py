"""Hostile or broken servers: each answer gives a clear error, in time, in bounded memory.

Every case runs against a raw loopback server with a 0.5 s client timeout and no
retries, and measures the SDK's peak allocation with tracemalloc: a 50 MB body must not
be held in memory (the SDK reads at most ``MAX_RESPONSE_BYTES``).
"""

from __future__ import annotations

import asyncio
import functools
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from autumn_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncAutumn,
    AutumnError,
    InternalServerError,
    ResponseValidationError,
)
from autumn_async._config import MAX_RESPONSE_BYTES

from ._servers import RawRequest, RawServer, respond

TIMEOUT_S = 0.5
MB = 1024 * 1024
#: Peak allocation allowed during one call: the read cap plus room for the machinery.
MEMORY_BOUND = MAX_RESPONSE_BYTES + 8 * MB
BIG = 50 * MB

Script = Callable[[RawRequest, asyncio.StreamWriter, int], Awaitable[None]]


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _stream(writer: asyncio.StreamWriter, total: int, *, chunked: bool) -> None:
    piece = b"A" * (256 * 1024)
    sent = 0
    while sent < total:
        data = piece[: total - sent]
        writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        await writer.drain()
        sent += len(data)
    if chunked:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


async def big_with_length(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(_head(200, {"Content-Type": "application/json", "Content-Length": str(BIG)}))
    await _stream(writer, BIG, chunked=False)


async def big_chunked(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(_head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
    await _stream(writer, BIG, chunked=True)


async def big_error_body(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(_head(500, {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"}))
    await _stream(writer, BIG, chunked=True)


async def endless_chunked_slow(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(_head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
    writer.write(b"1\r\n[\r\n")
    while True:  # a trickle that never ends: only the timeout can stop it
        writer.write(b"2\r\n1,\r\n")
        await writer.drain()
        await asyncio.sleep(0.01)


async def endless_chunked_fast(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(_head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
    piece = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
    while True:  # a flood that never ends: the size cap stops it before the timeout
        writer.write(piece)
        await writer.drain()


async def never_answers(_: RawRequest, _writer: asyncio.StreamWriter, _i: int) -> None:
    await asyncio.sleep(3600)


async def endless_headers(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    while True:
        writer.write(b"X-Filler: " + b"a" * 1000 + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.001)


def fixed(status: int, body: bytes, **kwargs: Any) -> Script:
    async def script(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
        await respond(writer, status, body, **kwargs)

    return script


#: What a decompression bomb inflates to: far past the cap, a few hundred KB on the wire.
BOMB_SIZE = 100 * MB


@functools.cache
def bomb(wbits: int) -> bytes:
    """``BOMB_SIZE`` zero bytes compressed (gzip: 31, zlib deflate: 15, raw deflate: -15)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(MB)
    parts = [packer.compress(zeros) for _ in range(BOMB_SIZE // MB)]
    return b"".join([*parts, packer.flush()])


def compressed(encoding: str, wbits: int, *, chunked: bool = False) -> Script:
    """A 200 whose compressed body inflates to ``BOMB_SIZE`` bytes."""

    async def script(_: RawRequest, writer: asyncio.StreamWriter, _i: int) -> None:
        body = bomb(wbits)
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        if chunked:
            writer.write(_head(200, {**headers, "Transfer-Encoding": "chunked"}))
            for start in range(0, len(body), 16 * 1024):
                piece = body[start : start + 16 * 1024]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(_head(200, {**headers, "Content-Length": str(len(body))}) + body)
        await writer.drain()

    script.prepare = functools.partial(bomb, wbits)  # type: ignore[attr-defined]
    return script


DEEP = b"[" * 200_000 + b"]" * 200_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000

CASES: dict[str, tuple[Script, type[AutumnError]]] = {
    "50MB_with_content_length": (big_with_length, ResponseValidationError),
    "50MB_chunked": (big_chunked, ResponseValidationError),
    "50MB_error_body": (big_error_body, ResponseValidationError),
    # Decompression bombs (issue 12 item 1): the cap counts inflated bytes, whatever the
    # headers say; 100 MB of zeros must never be held.
    "gzip_bomb_with_content_length": (compressed("gzip", 31), ResponseValidationError),
    "gzip_bomb_chunked": (compressed("gzip", 31, chunked=True), ResponseValidationError),
    "deflate_bomb": (compressed("deflate", 15), ResponseValidationError),
    "raw_deflate_bomb": (compressed("deflate", -15), ResponseValidationError),
    "deflate_bomb_chunked": (compressed("deflate", 15, chunked=True), ResponseValidationError),
    "unrequested_encoding": (
        fixed(200, b"\x00" * 64, headers={"Content-Encoding": "br"}),
        ResponseValidationError,
    ),
    "corrupt_gzip": (
        fixed(200, b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"}),
        ResponseValidationError,
    ),
    "endless_chunked_trickle": (endless_chunked_slow, APITimeoutError),
    "endless_chunked_flood": (endless_chunked_fast, ResponseValidationError),
    "never_answers": (never_answers, APITimeoutError),
    "endless_headers": (endless_headers, APIConnectionError),
    "deeply_nested_array": (fixed(200, DEEP), ResponseValidationError),
    "deeply_nested_object": (fixed(200, DEEP_OBJECT), ResponseValidationError),
    "invalid_utf8": (
        fixed(200, b'{"allowed": true, "customer_id": "\xff\xfe\xc3("}'),
        ResponseValidationError,
    ),
    "invalid_utf8_error_status": (fixed(503, b"\xff\xfe down \xc3("), InternalServerError),
    "html_200_page": (
        fixed(200, b"<html><body>Sign in to the Wi-Fi</body></html>", content_type="text/html"),
        ResponseValidationError,
    ),
    "empty_200": (fixed(200, b""), ResponseValidationError),
    "json_null": (fixed(200, b"null"), ResponseValidationError),
    "json_array": (fixed(200, b"[]"), ResponseValidationError),
    "nan_number": (
        fixed(200, b'{"allowed": true, "customer_id": "c", "required_balance": NaN}'),
        ResponseValidationError,
    ),
    "huge_number": (
        fixed(200, b'{"allowed": true, "customer_id": "c", "required_balance": 1e999}'),
        ResponseValidationError,
    ),
    "truncated_body": (
        fixed(200, b'{"allowed": true, "cust', content_length=4096),
        APIConnectionError,
    ),
    "bad_status_line": (
        fixed(200, b"", headers={}, content_type="text/plain\r\nbroken header line"),
        APIConnectionError,
    ),
}


async def _call_once(url: str) -> tuple[object, int]:
    """One check against ``url``; the outcome and the peak bytes allocated meanwhile."""
    async with AsyncAutumn(
        secret_key="am_sk_test_hostile", server_url=url, timeout=TIMEOUT_S, retry_config=None
    ) as autumn:
        await autumn.warm_up()
        tracemalloc.start()
        try:
            try:
                outcome: object = await autumn.balances.check(customer_id="c", feature_id="f")
            except AutumnError as exc:
                outcome = exc
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return outcome, peak


@pytest.mark.parametrize("case", list(CASES))
async def test_hostile_answer_gives_a_clear_error(case: str) -> None:
    """The typed error, within the timeout, without holding the body in memory."""
    script, error_type = CASES[case]
    getattr(script, "prepare", lambda: None)()  # compress a bomb before the clock runs
    async with RawServer(script) as server:
        outcome, peak = await asyncio.wait_for(_call_once(server.url), TIMEOUT_S * 10)
    assert isinstance(outcome, error_type), repr(outcome)
    assert str(outcome)
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"
    if isinstance(outcome, ResponseValidationError):
        assert len(outcome.body) <= 10_000  # the kept raw text is cut, not the whole body


async def test_every_size_up_to_the_cap_is_read() -> None:
    """The cap refuses only what is over it: a valid body just under it still parses."""
    filler = " " * (MAX_RESPONSE_BYTES - 100)
    body = b'{"allowed": true, "customer_id": "c"' + filler.encode() + b"}"
    assert len(body) <= MAX_RESPONSE_BYTES
    async with RawServer(fixed(200, body)) as server:
        outcome, _ = await _call_once(server.url)
    assert not isinstance(outcome, AutumnError), repr(outcome)


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", 31), ("deflate", 15), ("deflate", -15)])
async def test_compressed_answers_are_read(encoding: str, wbits: int) -> None:
    """A well-formed gzip or deflate answer (zlib-wrapped or raw) parses as usual."""
    raw = b'{"allowed": true, "customer_id": "c", "required_balance": 3}'
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = packer.compress(raw) + packer.flush()
    script = fixed(200, body, headers={"Content-Encoding": encoding})
    async with RawServer(script) as server:
        outcome, _ = await _call_once(server.url)
        assert "gzip" in server.requests[0].headers["accept-encoding"]
    assert not isinstance(outcome, AutumnError), repr(outcome)
    assert outcome.required_balance == 3  # type: ignore[attr-defined]


async def test_a_callers_session_gets_the_same_protection() -> None:
    """With session=... (aiohttp decompresses by default), a bomb is still capped in memory."""
    import aiohttp

    script = compressed("gzip", 31)
    script.prepare()  # type: ignore[attr-defined]
    async with (
        RawServer(script) as server,
        aiohttp.ClientSession() as session,
        AsyncAutumn(
            secret_key="am_sk_test_hostile",
            server_url=server.url,
            session=session,
            timeout=TIMEOUT_S,
            retry_config=None,
        ) as autumn,
    ):
        await autumn.warm_up()
        tracemalloc.start()
        try:
            with pytest.raises(ResponseValidationError, match="larger than"):
                await autumn.balances.check(customer_id="c", feature_id="f")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak {peak / MB:.1f} MB"


@pytest.mark.parametrize(
    "script",
    [
        fixed(200, b'{"unexpected": 1}'),
        fixed(200, b"x" * (MAX_RESPONSE_BYTES + 1)),
        fixed(200, b"abcde", headers={"Content-Encoding": "br"}),
    ],
    ids=["wrong-shape", "too-large", "unasked-encoding"],
)
@pytest.mark.parametrize("operation", ["track", "create", "check_send_event"])
async def test_an_unreadable_answer_to_a_state_changing_call_may_have_been_applied(
    script: Script, operation: str
) -> None:
    """The request reached Autumn and was answered: the change may well be applied.
    ``maybe_applied`` was False (a wrong shape), and a too-large or wrongly encoded answer
    did not even carry the ``idempotency_key`` the README promises on every error of a
    state-changing call — leaving a caller nothing to resend under without a double."""
    async with (
        RawServer(script) as server,
        AsyncAutumn(
            secret_key="am_sk_test_hostile", server_url=server.url, timeout=TIMEOUT_S,
            retry_config=None,
        ) as autumn,
    ):  # fmt: skip
        if operation == "track":
            call = autumn.balances.track(customer_id="c", feature_id="f", value=1)
        elif operation == "create":
            call = autumn.balances.create(customer_id="c", feature_id="f", included=1)
        else:
            call = autumn.balances.check(customer_id="c", feature_id="f", send_event=True)
        with pytest.raises(ResponseValidationError) as info:
            await call
    assert info.value.idempotency_key
    assert info.value.maybe_applied is True
