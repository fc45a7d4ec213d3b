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
import os
import ssl as _ssl
import weakref
from collections.abc import AsyncIterator, Mapping

import aiohttp
from yarl import URL

from ._config import MAX_RESPONSE_BYTES, Timeout
from ._errors import APIConnectionError, APITimeoutError, ResponseValidationError, UsageError
from ._fork import abandon, register
from ._http import Request, Response

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
    __slots__ = ("keeper", "session")

    def __init__(self, session: aiohttp.ClientSession, keeper: AsyncIterator[None]) -> None:
        self.session = session
        self.keeper = keeper


class AiohttpTransport:
    """The production transport: pooled keep-alive connections over aiohttp."""

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
    ) -> None:
        # Our own sessions carry the client's headers as defaults, so a call only adds
        # its extras; a caller's session gets them on every request.
        self._headers = dict(headers)
        self._limit = max_connections
        self._limit_per_host = max_connections_per_host
        self._keepalive_timeout = keepalive_timeout
        self._ssl = ssl
        self._owned_session = session
        self._max_bytes = max_response_bytes
        self._sessions: dict[asyncio.AbstractEventLoop, _LoopSession] = {}
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._default_timeout = default_timeout
        self._urls: dict[str, URL] = {}
        self._pid = os.getpid()
        _LIVE_TRANSPORTS.add(self)

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
        return await self._open_session()

    async def _open_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit_per_host,
            keepalive_timeout=self._keepalive_timeout,
            ssl=self._ssl,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=self._client_timeout(self._default_timeout),
            auto_decompress=True,
        )
        keeper = self._keeper(loop, session)
        # Advancing once registers the generator with this loop's shutdown_asyncgens().
        await keeper.__anext__()
        self._sessions[loop] = _LoopSession(session, keeper)
        return session

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
            # a few µs per call), and the total timeout bounds the wait anyway.
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
        # The hot path: one dict lookup for this loop's session, no extra awaits.
        headers: Mapping[str, str] | None
        session = self._owned_session
        if session is None:
            entry = self._sessions.get(asyncio.get_running_loop())
            session = entry.session if entry is not None else await self._open_session()
            headers = request.headers or None
        else:
            headers = {**base_headers, **request.headers}
        url = self._url(request.url)
        if request.timeout is self._default_timeout and session is not self._owned_session:
            # The session already carries the client's timeouts.
            context = session.request(request.method, url, data=request.body, headers=headers)
        else:
            context = session.request(
                request.method,
                url,
                data=request.body,
                headers=headers,
                timeout=self._client_timeout(request.timeout),
            )
        try:
            async with context as resp:
                length = resp.content_length
                if length is not None and length <= self._max_bytes:
                    body = await resp.read()
                else:
                    body = await self._read_capped(resp)
                return Response(resp.status, resp.headers, body)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            error = translate_exception(exc)
        # Raised outside the handler, with no cause or context: aiohttp's exceptions carry
        # request_info, whose headers hold the Authorization key. The message keeps the
        # foreign exception's type and text, which is what a reader needs.
        raise error

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        length = resp.content_length
        if length is not None:
            raise _too_large(resp.status, self._max_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > self._max_bytes:
                raise _too_large(resp.status, self._max_bytes)
            chunks.append(chunk)
        return b"".join(chunks)


def _too_large(status: int, limit: int) -> ResponseValidationError:
    return ResponseValidationError(
        f"the response body is larger than the {limit} bytes the SDK will read",
        status_code=status,
        body="",
    )


def translate_exception(exc: BaseException) -> Exception:
    """Map an exception raised while sending to the SDK's own.

    A connector error or a connect timeout means the request never left; a server
    disconnect, a reset, a truncated body or a read/total timeout means it may have
    been applied.
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
            f"could not connect to Autumn: {_describe(exc)} (the request was not sent)",
            maybe_applied=False,
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return UsageError(f"invalid server URL: {exc}", field="server_url")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return APIConnectionError(
            "the response body was cut short (the request may have been applied)",
            maybe_applied=True,
        )
    if isinstance(exc, (aiohttp.ClientError, OSError)):  # resets, disconnects
        return APIConnectionError(
            f"the connection to Autumn failed: {_describe(exc)} (the request may have been "
            "applied)",
            maybe_applied=True,
        )
    raise TypeError(f"not a transport failure: {exc!r}")  # a bug: let it surface


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
