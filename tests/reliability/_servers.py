"""Scripted loopback servers for wire-level hostility: raw HTTP/1.1 over asyncio streams.

aiohttp.web always sends well-formed answers; a hostile or broken peer does not. A
:class:`RawServer` reads one request per connection and hands it, with the writer, to a
script that may answer anything (a lie about Content-Length, an endless chunked body, a
half-written body) and then closes. ``forward`` relays a request to a real upstream (the
emulator), so a corrupted answer can follow a genuinely applied request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

__all__ = ["RawRequest", "RawServer", "Upstream", "respond"]

_REASONS = {200: "OK", 202: "Accepted", 409: "Conflict", 429: "Too Many Requests"}


@dataclass
class RawRequest:
    """One request as read off the socket (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """A real answer obtained by relaying a request."""

    status: int
    content_type: str
    body: bytes


Script = Callable[[RawRequest, asyncio.StreamWriter, int], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return RawRequest(method, path, headers, body)


async def respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
) -> None:
    """Write a complete (or, with a larger ``content_length``, a lying) answer."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    lines.append("Connection: close")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


@dataclass
class RawServer:
    """A loopback server that answers each request with ``script(request, writer, index)``.

    ``upstream`` (a base URL) enables :meth:`forward`. Every request is kept in
    ``requests``; ``index`` counts requests from 0 across connections.
    """

    script: Script
    upstream: str | None = None
    requests: list[RawRequest] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        if self.upstream is not None:
            self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        # Scripts that stream forever are cancelled here; since 3.12 wait_closed() waits
        # for every connection, so they must be gone first.
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self._session is not None:
            await self._session.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            request = await _read_request(reader)
            if request is None:
                return
            index = len(self.requests)
            self.requests.append(request)
            await self.script(request, writer, index)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def forward(self, request: RawRequest) -> Upstream:
        """Relay ``request`` to the upstream and return its answer (the call is applied)."""
        assert self._session is not None
        assert self.upstream is not None
        keep = ("authorization", "x-api-version", "idempotency-key", "content-type")
        headers = {name: value for name, value in request.headers.items() if name in keep}
        async with self._session.post(
            self.upstream + request.path, data=request.body, headers=headers
        ) as resp:
            body = await resp.read()
            return Upstream(resp.status, resp.headers.get("Content-Type", ""), body)


async def relay(server: RawServer, request: RawRequest, writer: asyncio.StreamWriter) -> None:
    """Forward ``request`` and pass the upstream's answer back unchanged."""
    answer = await server.forward(request)
    await respond(writer, answer.status, answer.body, content_type=answer.content_type)
