"""Bytes in, bytes out: the only module that uses aiohttp's client.

One ``aiohttp.ClientSession`` per (process, event loop), created lazily inside the loop
that uses it. Each session is closed on its own loop when that loop shuts down: a tiny
async generator holds it, and ``loop.shutdown_asyncgens()`` (run by ``asyncio.run`` and by
the sync shim at exit) finalises the generator, whose ``finally`` closes the session.

aiohttp's exceptions become ours here, and the mapping carries the one fact the retry
policy needs: whether the request may have reached the server.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import ssl as _ssl
import sys
import time
import weakref
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from yarl import URL

from ._config import MAX_RESPONSE_BYTES, Timeout
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AutumnError,
    ResponseValidationError,
    UsageError,
    redact_secret,
)
from ._fork import abandon, register
from ._http import Request, Response
from ._process_bound import ProcessBound

__all__ = ["AiohttpTransport", "translate_exception"]


# --- fork safety -----------------------------------------------------------------------
# A forked child shares its parent's sockets and epoll set: closing an inherited session
# in the child would close or unregister the parent's connections. The child buries what
# it inherited, unclosed and referenced forever, and starts afresh.
_LIVE_TRANSPORTS: weakref.WeakSet[AiohttpTransport] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_LIVE_TRANSPORTS):
        transport._abandon_inherited()


register("transports", after_in_child=_after_fork_in_child)


class _LoopSession:
    __slots__ = ("gate", "keeper", "session")

    def __init__(
        self, session: aiohttp.ClientSession, keeper: AsyncIterator[None], limit: int
    ) -> None:
        self.session = session
        self.keeper = keeper
        # Waiting for a pooled connection happens here, not inside aiohttp, so that a
        # timeout while waiting is known to be "never sent" (aiohttp's total timeout
        # cannot tell it from a read timeout).
        self.gate = asyncio.Semaphore(limit)


#: Whether this aiohttp lets a request switch off its session's decompression (3.10+).
_PER_REQUEST_DECOMPRESS = (
    "auto_decompress" in inspect.signature(aiohttp.ClientSession._request).parameters
)
#: The only encodings the SDK asks for, and inflates itself with a bound on the output.
_ACCEPT_ENCODING = "gzip, deflate"
_INFLATE_STEP = 256 * 1024


class AiohttpTransport(ProcessBound):
    """The production transport: pooled keep-alive connections over aiohttp.

    It never follows a redirect, inflates compressed bodies itself and stops at
    ``max_response_bytes`` of decompressed output, and bounds the wait for a pooled
    connection by the attempt's total timeout, reporting it as never sent.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        max_connections_per_host: int,
        keepalive_timeout: float,
        default_timeout: Timeout,
        ssl: _ssl.SSLContext | bool = True,
        headers: Mapping[str, str],
        session: aiohttp.ClientSession | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        proxy: str | None = None,
    ) -> None:
        # Our own sessions carry the client's headers as defaults, so a call only adds
        # its extras; a caller's session gets them on every request.
        self._headers = {**headers, "Accept-Encoding": _ACCEPT_ENCODING}
        authorization = self._headers.get("Authorization", "")
        self._secret = authorization.partition(" ")[2] or None
        self._limit = max_connections
        self._limit_per_host = max_connections_per_host
        self._keepalive_timeout = keepalive_timeout
        self._ssl = ssl
        self._owned_session = session
        self._max_bytes = max_response_bytes
        # aiohttp merges a session's default headers into the proxy's: with a proxy, our
        # Authorization would go to the proxy as Proxy-Authorization, in clear text even
        # on CONNECT for https://. Then every request carries the headers itself instead.
        self._session_headers = self._headers if proxy is None else {}
        self._extra: dict[str, Any] = {"allow_redirects": False}
        # Sent to the proxy only: on CONNECT for https://, on each request for http://.
        self._proxy_authorization: dict[str, str] = {}
        if proxy is not None:
            self._extra["proxy"], self._proxy_authorization = _split_proxy(proxy)
            if self._proxy_authorization:
                self._extra["proxy_headers"] = self._proxy_authorization
        # Only a caller's session on an aiohttp too old to switch decompression off per
        # request inflates for us; _read_capped then counts the inflated bytes instead.
        self._aiohttp_inflates = False
        if session is not None and session.auto_decompress:
            if _PER_REQUEST_DECOMPRESS:
                self._extra["auto_decompress"] = False
            else:  # pragma: no cover - aiohttp < 3.10
                self._aiohttp_inflates = True
        self._sessions: dict[asyncio.AbstractEventLoop, _LoopSession] = {}
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._default_timeout = default_timeout
        self._urls: dict[str, URL] = {}
        self._pid = os.getpid()
        _LIVE_TRANSPORTS.add(self)

    def __repr__(self) -> str:
        return f"<AiohttpTransport max_connections={self._limit}>"

    # -- sessions ----------------------------------------------------------------------

    def _abandon_inherited(self) -> None:
        for entry in self._sessions.values():
            connector = entry.session.connector
            if connector is not None:
                # Marks it closed without closing it, so no finaliser touches its sockets
                # (aiohttp has no public way to disown a connector's sockets).
                connector._closed = True
            abandon(entry)
        self._sessions = {}
        self._pid = os.getpid()

    async def _keeper(
        self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession
    ) -> AsyncIterator[None]:
        pid = os.getpid()
        try:
            yield
        finally:
            if os.getpid() == pid:
                entry = self._sessions.get(loop)
                if entry is not None and entry.session is session:
                    del self._sessions[loop]
                if not session.closed:
                    await session.close()

    async def _session(self) -> aiohttp.ClientSession:
        if self._owned_session is not None:
            return self._owned_session
        entry = self._sessions.get(asyncio.get_running_loop())
        if entry is not None:
            return entry.session
        return (await self._open_session()).session

    async def _open_session(self) -> _LoopSession:
        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            keepalive_timeout=self._keepalive_timeout,
            ssl=self._ssl,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._session_headers,
            timeout=self._client_timeout(self._default_timeout),
            # Decompressed here, with a bound (see _read_body); the environment's proxy
            # settings are read by the client's options, never ~/.netrc.
            auto_decompress=False,
            trust_env=False,
        )
        keeper = self._keeper(loop, session)
        # Advancing once registers the generator with this loop's shutdown_asyncgens().
        await keeper.__anext__()
        entry = self._sessions[loop] = _LoopSession(session, keeper, self._limit)
        return entry

    async def warm_up(self) -> None:
        """Open this event loop's session now, so the first call does not pay for it."""
        await self._session()

    @property
    def has_open_sessions(self) -> bool:
        """Whether this transport holds sessions it opened and has not closed."""
        return bool(self._sessions)

    async def aclose(self) -> None:
        """Close every session this transport opened; a caller's session is left open."""
        if self._pid != os.getpid():
            self._abandon_inherited()
            return
        current = asyncio.get_running_loop()
        for loop, entry in list(self._sessions.items()):
            if loop is current:
                await entry.keeper.aclose()  # type: ignore[attr-defined]
            elif not loop.is_closed() and loop.is_running():
                fut = asyncio.run_coroutine_threadsafe(entry.keeper.aclose(), loop)  # type: ignore[attr-defined]
                await asyncio.wrap_future(fut)
        self._sessions.clear()

    # -- sending -----------------------------------------------------------------------

    def _client_timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        ct = self._timeouts.get(timeout)
        if ct is None:
            # sock_connect bounds opening a connection; ``connect`` would also bound the
            # pool wait, but it arms a timer on every request, pooled or not (measured:
            # a few µs per call). The pool wait is bounded by the gate instead.
            ct = aiohttp.ClientTimeout(total=timeout.total, sock_connect=timeout.connect)
            self._timeouts[timeout] = ct
        return ct

    def _url(self, url: str) -> URL:
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = URL(url)
            if len(self._urls) < 64:
                self._urls[url] = parsed
        return parsed

    async def send(self, request: Request, base_headers: Mapping[str, str]) -> Response:
        """Send one attempt; foreign exceptions leave this method as ours."""
        # ``base_headers`` holds the secret key, and so would any local of a frame an error
        # travels through, where capture_locals, pytest --showlocals or an error tracker
        # print it. This transport carries the client's headers itself; the attempt runs in
        # a frame that has returned before anything is raised here.
        del base_headers
        outcome = await self._attempt(request)
        if isinstance(outcome, Response):
            return outcome
        # Raised here, with no cause or context: aiohttp's exceptions carry request_info,
        # whose headers hold the Authorization key. The message keeps the foreign
        # exception's type and text, which is what a reader needs.
        raise outcome

    async def _attempt(self, request: Request) -> Response | AutumnError:
        gate: asyncio.Semaphore | None = None
        session = self._owned_session
        timeout = request.timeout
        client_timeout: aiohttp.ClientTimeout | None = None
        if session is None:
            entry = self._sessions.get(asyncio.get_running_loop())
            if entry is None:
                entry = await self._open_session()
            session = entry.session
            gate = entry.gate
            if gate.locked():
                started = time.monotonic()
                if not await _acquire(gate, timeout.total):
                    return APITimeoutError(
                        f"timed out after {timeout.total:g}s waiting for a free connection "
                        f"(all {self._limit} in use; the request was not sent)",
                        maybe_applied=False,
                    )
                left = timeout.total - (time.monotonic() - started)
                if left <= 0:
                    gate.release()
                    return APITimeoutError(
                        "timed out waiting for a free connection (the request was not sent)",
                        maybe_applied=False,
                    )
                client_timeout = aiohttp.ClientTimeout(total=left, sock_connect=timeout.connect)
            else:
                await gate.acquire()
            if client_timeout is None and timeout is not self._default_timeout:
                client_timeout = self._client_timeout(timeout)
            if self._session_headers:
                headers: Mapping[str, str] | None = request.headers or None
            else:
                headers = {**self._headers, **request.headers}
        else:
            client_timeout = self._client_timeout(timeout)
            headers = {**self._headers, **request.headers}
        if self._proxy_authorization and request.url.startswith("http:"):
            # A plain-http request goes to the proxy as it is (no tunnel): aiohttp sends
            # proxy_headers only on CONNECT.
            headers = {**(headers or {}), **self._proxy_authorization}
        try:
            if client_timeout is None:
                # The session already carries the client's timeouts.
                context = session.request(
                    request.method,
                    self._url(request.url),
                    data=request.body,
                    headers=headers,
                    **self._extra,
                )
            else:
                context = session.request(
                    request.method,
                    self._url(request.url),
                    data=request.body,
                    headers=headers,
                    timeout=client_timeout,
                    **self._extra,
                )
            del headers  # a caller's session gets the key in them
            async with context as resp:
                return Response(resp.status, resp.headers, await self._read_body(resp))
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            return translate_exception(exc, secret=self._secret)
        except ResponseValidationError as exc:
            return exc
        finally:
            if gate is not None:
                gate.release()

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        encoding = resp.headers.get("Content-Encoding")
        if encoding is not None and not self._aiohttp_inflates:
            name = encoding.strip().lower()
            if name not in ("", "identity"):
                return await self._read_inflated(resp, name)
        length = resp.content_length
        if length is not None and encoding is None and length <= self._max_bytes:
            return await resp.read()
        return await self._read_capped(resp)

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        length = resp.content_length
        if length is not None and length > self._max_bytes:
            raise _too_large(resp.status, self._max_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > self._max_bytes:
                raise _too_large(resp.status, self._max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _read_inflated(self, resp: aiohttp.ClientResponse, encoding: str) -> bytes:
        """Inflate a gzip or deflate body chunk by chunk, never producing more than the cap.

        The cap counts decompressed bytes whatever the headers say: a few hundred KB of
        zeros inflate to gigabytes, and aiohttp's own reader would hold them all.
        """
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise ResponseValidationError(
                f"the response uses Content-Encoding {encoding[:40]!r}, which the SDK did not "
                f"ask for ({_ACCEPT_ENCODING})",
                status_code=resp.status,
                body="",
            )
        limit = self._max_bytes
        inflater: Any = None
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in resp.content.iter_any():
                if not chunk:
                    continue
                if inflater is None:
                    inflater = _inflater(encoding, chunk[0])
                data = chunk
                while data and not inflater.eof:
                    # Small steps, and at most one byte past the cap: the memory held is
                    # the cap plus one step, and an oversized body is known at once.
                    piece = inflater.decompress(data, min(_INFLATE_STEP, limit - size + 1))
                    size += len(piece)
                    if size > limit:
                        raise _too_large(resp.status, limit)
                    chunks.append(piece)
                    data = inflater.unconsumed_tail
            if inflater is not None:
                rest = inflater.flush()
                size += len(rest)
                if size > limit:
                    raise _too_large(resp.status, limit)
                chunks.append(rest)
                complete = inflater.eof
            else:
                complete = True
        except zlib.error as exc:
            raise ResponseValidationError(
                f"the {encoding} response body could not be decompressed: {exc}",
                status_code=resp.status,
                body="",
            ) from None
        if not complete:
            raise ResponseValidationError(
                f"the {encoding} response body ends before its compressed stream does",
                status_code=resp.status,
                body="",
            )
        return b"".join(chunks)


def _inflater(encoding: str, first: int) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    # "deflate" is meant to be zlib-wrapped (RFC 9110); some servers send raw deflate.
    return zlib.decompressobj(zlib.MAX_WBITS if first & 0x0F == 8 else -zlib.MAX_WBITS)


async def _acquire(gate: asyncio.Semaphore, seconds: float) -> bool:
    """Take a slot within ``seconds``; ``False`` when none came free in time."""
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(seconds):
                await gate.acquire()
        else:  # pragma: no cover - Python 3.10
            await asyncio.wait_for(gate.acquire(), seconds)
    except asyncio.TimeoutError:
        return False
    return True


def _split_proxy(proxy: str) -> tuple[URL, dict[str, str]]:
    """``proxy`` without its credentials, and the credentials as a ``Proxy-Authorization``
    header (aiohttp 3.14 deprecates ``BasicAuth``)."""
    url = URL(proxy)
    if url.user is None:
        return url, {}
    secret = f"{url.user}:{url.password or ''}".encode()
    header = "Basic " + base64.b64encode(secret).decode("ascii")
    return url.with_user(None), {"Proxy-Authorization": header}


def _too_large(status: int, limit: int) -> ResponseValidationError:
    return ResponseValidationError(
        f"the response body is larger than the {limit} bytes the SDK will read",
        status_code=status,
        body="",
    )


def translate_exception(exc: BaseException, *, secret: str | None = None) -> AutumnError:
    """Map an exception raised while sending to the SDK's own.

    A connector error or a connect timeout means the request never left; a server
    disconnect, a reset, a truncated body or a read/total timeout means it may have
    been applied. ``secret`` is redacted from the foreign exception's text, which may
    quote what the server sent.
    """
    if isinstance(exc, (APIConnectionError, ResponseValidationError, UsageError)):
        return exc
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(
            "timed out connecting to Autumn (the request was not sent)", maybe_applied=False
        )
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return APITimeoutError(
            "timed out waiting for Autumn's answer (the request may have been applied)",
            maybe_applied=True,
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return APIConnectionError(
            f"could not connect to Autumn: {_describe(exc, secret)} (the request was not sent)",
            maybe_applied=False,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return UsageError("invalid server URL", field="server_url")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return APIConnectionError(
            "the response body was cut short (the request may have been applied)",
            maybe_applied=True,
        )
    if isinstance(exc, (aiohttp.ClientError, OSError)):  # resets, disconnects
        return APIConnectionError(
            f"the connection to Autumn failed: {_describe(exc, secret)} (the request may have been "
            "applied)",
            maybe_applied=True,
        )
    raise TypeError(f"not a transport failure: {exc!r}")  # a bug: let it surface


def _describe(exc: BaseException, secret: str | None) -> str:
    text = redact_secret(str(exc), secret)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
