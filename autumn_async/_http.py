"""The HTTP boundary's value types, and a transport for tests that needs no network.

Nothing here imports aiohttp, so the client can build requests before the first send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from ._config import Timeout
from ._public import publish

__all__ = ["AsyncTransport", "MockTransport", "Request", "Response"]


class Request:
    """One HTTP attempt as the transport sees it (read-only by convention).

    ``headers`` adds to the client's own. A plain slotted class rather than an attrs one:
    one is built per call, on the hot path.
    """

    __slots__ = ("body", "headers", "method", "timeout", "url")

    def __init__(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str], timeout: Timeout
    ) -> None:
        self.method = method
        self.url = url
        self.body = body
        self.headers = headers
        self.timeout = timeout

    def replace(self, **changes: object) -> Request:
        """A copy with some fields changed."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return Request(**fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Never the headers: the client's include Authorization.
        return f"Request(method={self.method!r}, url={self.url!r}, body={self.body!r})"


class Response:
    """An HTTP answer, whatever its status (read-only by convention)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status, dict(self.headers), self.body) == (
            other.status,
            dict(other.headers),
            other.body,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Response(status={self.status!r}, body={self.body[:200]!r})"


class AsyncTransport(Protocol):
    """Everything the client uses of a transport (pass one as ``AsyncAutumn(transport=)``).

    The SDK's own is built on aiohttp; :class:`MockTransport` answers from a function.
    """

    async def send(self, request: Request, base_headers: Mapping[str, str]) -> Response:
        """Send one attempt and return the answer, or raise an ``APIConnectionError``.

        ``base_headers`` are the client's own (``Authorization``, ``x-api-version`` ...);
        ``request.headers`` adds to them.
        """
        ...

    async def warm_up(self) -> None:
        """Do now, on the running loop, what the first ``send`` would (open a pool)."""
        ...

    @property
    def has_open_sessions(self) -> bool:
        """Whether ``aclose`` has something to release (a leaked client warns then)."""
        ...

    async def aclose(self) -> None:
        """Release what the transport holds; idempotent."""
        ...


#: What a :class:`MockTransport` calls for each attempt.
Handler = Callable[[Request], "Response | Awaitable[Response]"]


class MockTransport:
    """A transport that answers from a function, for testing code that uses the SDK.

    ``handler(request)`` returns a :class:`Response` (or an awaitable of one), or raises
    an ``APIConnectionError`` to simulate a network failure. ``requests`` records every
    attempt, with the client's headers merged in.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[Request] = []

    async def send(self, request: Request, base_headers: Mapping[str, str]) -> Response:
        """Record the attempt and answer it from the handler."""
        merged = request.replace(headers={**base_headers, **request.headers})
        del base_headers  # it holds the key, and a handler's error passes through this frame
        self.requests.append(merged)
        result = self._handler(merged)
        if isinstance(result, Response):
            return result
        return await result

    async def warm_up(self) -> None:
        """Nothing to prepare."""

    @property
    def has_open_sessions(self) -> bool:
        """Always ``False``: nothing to release."""
        return False

    async def aclose(self) -> None:
        """Nothing to release."""


publish(globals(), ("AsyncTransport", "MockTransport", "Request", "Response"))
