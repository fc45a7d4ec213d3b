"""The HTTP boundary's value types, and a transport for tests that needs no network.

Nothing here imports aiohttp, so the client can build requests before the first send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import attrs

from ._config import Timeout

__all__ = ["AsyncTransport", "MockTransport", "Request", "Response"]


@attrs.frozen(slots=True)
class Request:
    """One HTTP attempt as the transport sees it. ``headers`` adds to the client's own."""

    method: str
    url: str
    body: bytes
    headers: Mapping[str, str]
    timeout: Timeout


@attrs.frozen(slots=True)
class Response:
    """An HTTP answer, whatever its status."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class AsyncTransport(Protocol):
    """What the client needs from a transport."""

    async def send(self, request: Request, base_headers: Mapping[str, str]) -> Response:
        """Send one attempt and return the answer, or raise an ``APIConnectionError``."""
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
        merged = attrs.evolve(request, headers={**base_headers, **request.headers})
        self.requests.append(merged)
        result = self._handler(merged)
        if isinstance(result, Response):
            return result
        return await result

    async def aclose(self) -> None:
        """Nothing to release."""
