"""``AsyncAutumn``: options, lifecycle, and the resources it hands out.

Requests go through :class:`._pipeline.Pipeline` (send, retry, parse), which the client
builds from its options; the resources and the batcher are given the pipeline.
"""

from __future__ import annotations

import asyncio
import os
import ssl as _ssl
import warnings
from typing import TYPE_CHECKING, Any

from ._config import (
    DEFAULT_API_VERSION,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_SERVER_URL,
    ENV_SECRET_KEY,
    ENV_SERVER_URL,
    Timeout,
    coerce_timeout,
)
from ._errors import UsageError
from ._pipeline import Pipeline
from ._public import publish
from ._retry import NO_RETRIES, RetryConfig
from ._version import __version__

if TYPE_CHECKING:
    import aiohttp

    from ._balances import AsyncBalances
    from ._batcher import AsyncUsageBatcher
    from ._http import AsyncTransport

__all__ = ["AsyncAutumn"]

USER_AGENT = f"autumn-balances-python/{__version__}"


def _mask(secret: str) -> str:
    return secret[:6] + "…" if len(secret) > 10 else "…"


class AsyncAutumn:
    """Client for Autumn's balances API, for asyncio code.

    All options are keyword-only. ``secret_key`` falls back to the environment variable
    ``AUTUMN_SECRET_KEY`` and ``server_url`` to ``AUTUMN_SERVER_URL``, then to
    ``https://api.useautumn.com``. ``timeout`` (seconds, or a :class:`Timeout`) bounds each
    attempt; ``retry_config`` (``None`` to switch retries off) bounds the whole call.
    With ``fail_open=True`` a ``check`` that cannot get an answer returns ``allowed=True``
    marked as a fallback. ``max_connections`` and ``keepalive_timeout`` size the pool;
    ``ssl`` takes an ``ssl.SSLContext`` (verification is always on by default);
    ``session`` is a caller-owned ``aiohttp.ClientSession`` the client never closes;
    ``transport`` replaces the HTTP layer (for example a :class:`MockTransport` in tests).

    Use it as ``async with AsyncAutumn(...) as autumn:`` or call :meth:`aclose`. One client
    may be used from several event loops in turn and in forked children: it keeps one
    connection pool per process and loop.
    """

    def __init__(
        self,
        *,
        secret_key: str | None = None,
        server_url: str | None = None,
        x_api_version: str = DEFAULT_API_VERSION,
        timeout: float | Timeout = Timeout(),  # noqa: B008 (frozen, immutable)
        retry_config: RetryConfig | None = RetryConfig(),  # noqa: B008 (frozen, immutable)
        fail_open: bool = False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keepalive_timeout: float = DEFAULT_KEEPALIVE_TIMEOUT,
        ssl: _ssl.SSLContext | bool = True,
        session: aiohttp.ClientSession | None = None,
        transport: AsyncTransport | None = None,
    ) -> None:
        key = secret_key if secret_key is not None else os.environ.get(ENV_SECRET_KEY)
        if key is None:
            raise UsageError(
                f"no secret key: pass secret_key=... or set {ENV_SECRET_KEY}",
                field="secret_key",
            )
        if not isinstance(key, str) or not key.strip():
            raise UsageError("secret_key must be a non-empty string", field="secret_key")
        if any(ch.isspace() or not ch.isprintable() for ch in key):
            raise UsageError(
                "secret_key contains whitespace or control characters", field="secret_key"
            )
        url = server_url or os.environ.get(ENV_SERVER_URL) or DEFAULT_SERVER_URL
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise UsageError(
                f"server_url must start with http:// or https://, got {url!r}", field="server_url"
            )
        if not isinstance(x_api_version, str) or not x_api_version.strip():
            raise UsageError("x_api_version must be a non-empty string", field="x_api_version")
        if retry_config is not None and not isinstance(retry_config, RetryConfig):
            raise UsageError("retry_config must be a RetryConfig or None", field="retry_config")
        if not isinstance(fail_open, bool):
            raise UsageError("fail_open must be a bool", field="fail_open")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise UsageError("max_connections must be an int", field="max_connections")
        if max_connections < 1:
            raise UsageError("max_connections must be at least 1", field="max_connections")
        self.__secret_key = key
        self.server_url = url.rstrip("/")
        self.x_api_version = x_api_version
        self.timeout = coerce_timeout(timeout)
        self.retry_config = retry_config if retry_config is not None else NO_RETRIES
        self.fail_open = fail_open
        self.max_connections = max_connections
        self.keepalive_timeout = keepalive_timeout
        self._ssl = ssl
        self._session = session
        self._closed = False
        # Built once: the hot path only adds an Idempotency-Key where needed.
        self._headers: dict[str, str] = {
            "Authorization": f"Bearer {key}",
            "x-api-version": x_api_version,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._balances: AsyncBalances | None = None
        self._pipeline = Pipeline(
            server_url=self.server_url,
            headers=self._headers,
            timeout=self.timeout,
            retry_config=self.retry_config,
            transport=transport,
            make_transport=self._make_transport,
        )

    def __repr__(self) -> str:
        return (
            f"AsyncAutumn(server_url={self.server_url!r}, x_api_version={self.x_api_version!r}, "
            f"secret_key={_mask(self.__secret_key)!r})"
        )

    # -- public surface ----------------------------------------------------------------

    @property
    def balances(self) -> AsyncBalances:
        """The balances operations: ``create``, ``update``, ``check``, ``track``."""
        if self._balances is None:
            from ._balances import AsyncBalances  # noqa: PLC0415

            self._balances = AsyncBalances(self._pipeline, fail_open=self.fail_open)
        return self._balances

    def batcher(self, **options: Any) -> AsyncUsageBatcher:
        """A usage batcher sending through this client (see :class:`AsyncUsageBatcher`).

        Use it as ``async with autumn.batcher(...) as batcher:`` and close it before the
        client: it registers nothing global, so what it holds is delivered only by
        ``flush()`` or closing (or, with ``spool_path``, by the next run).
        """
        from ._batcher import AsyncUsageBatcher  # noqa: PLC0415 (only workers need it)

        return AsyncUsageBatcher(self, **options)

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def warm_up(self) -> None:
        """Do the first call's one-off work off the event loop, and open this loop's pool.

        Optional: without it the first request imports aiohttp and builds the response
        readers on the loop, which stalls it for about 0.1 s once per process.
        """
        await asyncio.to_thread(_prepare_first_call)
        await self._pipeline.transport.warm_up()

    async def aclose(self) -> None:
        """Close the connection pools this client opened; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._pipeline.close()
        transport = self._pipeline.transport_built
        if transport is not None:
            await transport.aclose()

    async def __aenter__(self) -> AsyncAutumn:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self, _warnings: Any = warnings) -> None:
        pipeline: Pipeline | None = getattr(self, "_pipeline", None)  # None: __init__ failed
        if getattr(self, "_closed", True) or pipeline is None:
            return
        transport = pipeline.transport_built
        if transport is not None and transport.has_open_sessions:
            _warnings.warn(
                f"{self!r} was never closed; use 'async with' or 'await aclose()'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    # -- pipeline ---------------------------------------------------------------------

    @property
    def pipeline(self) -> Pipeline:
        """The request pipeline this client sends through (send with retries, parse).

        The seam the SDK's resources and usage batcher are built on; application code
        does not need it.
        """
        return self._pipeline

    def _make_transport(self) -> AsyncTransport:
        module = _import_transport()
        transport: AsyncTransport = module.AiohttpTransport(
            max_connections=self.max_connections,
            max_connections_per_host=0,  # one host: max_connections bounds it
            keepalive_timeout=self.keepalive_timeout,
            default_timeout=self.timeout,
            ssl=self._ssl,
            headers=self._headers,
            session=self._session,
        )
        return transport


def _prepare_first_call() -> None:
    _import_transport()
    from . import _balances, _requests  # noqa: F401, PLC0415
    from . import models as m  # noqa: PLC0415
    from ._serde import prepare  # noqa: PLC0415

    prepare(
        m.BalancesCheckResponse,
        m.BalancesTrackResponse,
        m.BalancesCreateResponse,
        m.BalancesUpdateResponse,
    )


def _import_transport() -> Any:
    from . import _transport  # noqa: PLC0415 (aiohttp is imported on first use only)

    return _transport


publish(globals(), ("AsyncAutumn",))
