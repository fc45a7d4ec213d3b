"""``AsyncAutumn``: options, lifecycle, and the resources it hands out.

Requests go through :class:`._pipeline.Pipeline` (send, retry, parse), which the client
builds from its options; the resources and the batcher are given the pipeline.
"""

from __future__ import annotations

import asyncio
import os
import ssl as _ssl
import warnings
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from ._config import (
    DEFAULT_API_VERSION,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    NOT_GIVEN,
    NotGiven,
    Timeout,
)
from ._options import ClientOptions, SecretKey
from ._pipeline import Pipeline
from ._process_bound import ProcessBound
from ._public import publish
from ._retry import RetryConfig
from ._version import __version__

if TYPE_CHECKING:
    import aiohttp

    from ._balances import AsyncBalances
    from ._batcher import AsyncUsageBatcher, Spool, UsageEvent
    from ._customers import AsyncCustomers
    from ._entities import AsyncEntities
    from ._http import AsyncTransport

__all__ = ["AsyncAutumn"]

USER_AGENT = f"autumn-balances-python/{__version__}"


def _mask(secret: str) -> str:
    return secret[:6] + "…" if len(secret) > 10 else "…"


class AsyncAutumn(ProcessBound):
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
    ``proxy`` (``http://[user:password@]host:port``) sends every request through a proxy;
    ``trust_env=True`` reads it from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` instead
    (by default the environment is ignored). A plain ``http://`` ``server_url`` on another
    machine is refused unless ``allow_insecure_http=True``. Every option is checked here,
    with a :class:`UsageError` naming it, and is a read-only property afterwards.

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
        proxy: str | None = None,
        trust_env: bool = False,
        allow_insecure_http: bool = False,
    ) -> None:
        # No frame a construction error passes through may hold the key in a local: it is
        # wrapped at once, and checked (and unwrapped) only after every other option.
        secret = SecretKey.wrap(secret_key)
        del secret_key
        self._options = ClientOptions.build(
            server_url=server_url,
            x_api_version=x_api_version,
            timeout=timeout,
            retry_config=retry_config,
            fail_open=fail_open,
            max_connections=max_connections,
            keepalive_timeout=keepalive_timeout,
            ssl=ssl,
            session=session,
            transport=transport,
            proxy=proxy,
            trust_env=trust_env,
            allow_insecure_http=allow_insecure_http,
        )
        self.__secret_key = secret.checked()
        self._session = session
        self._closed = False
        #: The batchers sending through this client, closed (delivered) before its pools.
        self._batchers: weakref.WeakSet[AsyncUsageBatcher] = weakref.WeakSet()
        # Built once: the hot path only adds an Idempotency-Key where needed.
        self._headers: dict[str, str] = {
            "Authorization": "Bearer " + self.__secret_key,
            "x-api-version": self._options.x_api_version,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._balances: AsyncBalances | None = None
        self._customers: AsyncCustomers | None = None
        self._entities: AsyncEntities | None = None
        self._pipeline = Pipeline(
            server_url=self.server_url,
            headers=self._headers,
            timeout=self.timeout,
            retry_config=self.retry_config,
            transport=transport,
            make_transport=self._make_transport,
            secret=self.__secret_key,
        )

    def __repr__(self) -> str:
        if not hasattr(self, "_AsyncAutumn__secret_key"):
            # Shown by tracebacks with locals when building the client failed.
            return "AsyncAutumn(<not built>)"
        return (
            f"AsyncAutumn(server_url={self.server_url!r}, x_api_version={self.x_api_version!r}, "
            f"secret_key={_mask(self.__secret_key)!r})"
        )

    # -- options (read-only: the pool and headers are built from them once) ------------

    @property
    def server_url(self) -> str:
        """The base URL requests go to, without a trailing slash."""
        return self._options.server_url

    @property
    def x_api_version(self) -> str:
        """Sent as ``x-api-version`` on every request."""
        return self._options.x_api_version

    @property
    def timeout(self) -> Timeout:
        """The per-attempt time limits of every call (overridable per call)."""
        return self._options.timeout

    @property
    def retry_config(self) -> RetryConfig:
        """How calls are retried (overridable per call with ``retries=``)."""
        return self._options.retry_config

    @property
    def fail_open(self) -> bool:
        """Whether a ``check`` without an answer returns a marked ``allowed=True``."""
        return self._options.fail_open

    @property
    def max_connections(self) -> int:
        """Size of each connection pool (one per process and event loop)."""
        return self._options.max_connections

    @property
    def keepalive_timeout(self) -> float:
        """Seconds an idle pooled connection is kept."""
        return self._options.keepalive_timeout

    @property
    def trust_env(self) -> bool:
        """Whether the proxy was read from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``."""
        return self._options.trust_env

    @property
    def allow_insecure_http(self) -> bool:
        """Whether a plain ``http://`` server other than this machine was allowed."""
        return self._options.allow_insecure_http

    @property
    def account_fingerprint(self) -> str:
        """A stable hash of ``server_url`` and the secret key that reveals nothing of the key.

        Spools tag every event with it, so that events accepted for one account are never
        sent with another's key (a sandbox spool read by a live worker stays put).
        """
        from ._batcher._spool import account_fingerprint  # noqa: PLC0415 (workers only)

        return account_fingerprint(self.server_url, self.__secret_key)

    # -- public surface ----------------------------------------------------------------

    @property
    def balances(self) -> AsyncBalances:
        """The balances operations: ``create``, ``update``, ``check``, ``track``."""
        if self._balances is None:
            from ._balances import AsyncBalances  # noqa: PLC0415

            self._balances = AsyncBalances(self._pipeline, fail_open=self.fail_open)
        return self._balances

    @property
    def customers(self) -> AsyncCustomers:
        """The customer operations: ``get_or_create``, ``get``, ``update``, ``delete``, ``list``."""
        if self._customers is None:
            from ._customers import AsyncCustomers  # noqa: PLC0415

            self._customers = AsyncCustomers(self._pipeline, api_version=self.x_api_version)
        return self._customers

    @property
    def entities(self) -> AsyncEntities:
        """The entity operations: ``create``, ``get``, ``list``, ``update``, ``delete``."""
        if self._entities is None:
            from ._entities import AsyncEntities  # noqa: PLC0415

            self._entities = AsyncEntities(self._pipeline, api_version=self.x_api_version)
        return self._entities

    def batcher(
        self,
        *,
        mode: Literal["batch_track", "track"] = "batch_track",
        max_batch_size: int | None = None,
        flush_interval: float = 1.0,
        max_concurrency: int | None = None,
        max_requests_per_second: float | NotGiven | None = NOT_GIVEN,
        max_queue: int = 100_000,
        overflow: Literal["block", "drop_newest", "drop_oldest"] = "block",
        block_timeout: float | None = None,
        max_attempts: int = 20,
        coalesce: bool = False,
        spool_path: str | os.PathLike[str] | None = None,
        spool: Spool | None = None,
        spool_lease: float = 30.0,
        deliver: bool = True,
        on_error: Callable[[UsageEvent, BaseException], object] | None = None,
        on_drop: Callable[[UsageEvent, str], object] | None = None,
        shutdown_timeout: float | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> AsyncUsageBatcher:
        """A usage batcher sending through this client (options: see the README).

        Close it (``with``/``async with``, ``close()``/``aclose()``; closing the client
        closes it first):
        closing returns once every event it holds is delivered or settled for good. A
        misspelt option is a ``TypeError``.

        Args:
            mode: ``"batch_track"`` (default: up to ``max_batch_size`` events per
                ``balances.batch_track`` request) or ``"track"`` (one request per event).
            max_batch_size: events per request in ``batch_track`` mode (default 1000,
                Autumn's limit).
            flush_interval: seconds an event may wait for a fuller batch (default 1.0).
            max_concurrency: requests in flight (default 2 in ``batch_track`` mode, 16 in
                ``track`` mode); at most the client's ``max_connections``.
            max_requests_per_second: request pacing (default 2 in ``batch_track`` mode, so
                several processes stay under Autumn's 10 batch requests/s per
                organisation; none in ``track`` mode); ``None`` for no pacing.
            max_queue: events held in memory before ``overflow`` applies (default 100,000).
            overflow: ``"block"`` (default: ``track()`` waits up to ``block_timeout``),
                ``"drop_newest"`` or ``"drop_oldest"`` (reported to ``on_drop``).
            block_timeout: seconds ``track()`` may block under ``"block"`` (``None``:
                no limit).
            max_attempts: deliveries tried per event before it goes to ``on_error``
                (default 20).
            coalesce: sum plain counter events (same customer, feature or event name,
                entity, no properties, no caller key) into one; not with a spool.
            spool_path: a file for the SQLite spool: events are on disk before
                ``track()`` returns and survive a crash.
            spool: any :class:`Spool` implementation instead (e.g. ``RedisSpool``).
            deliver: ``False`` to only hand events to a shared spool (``RedisSpool``)
                for fleet workers to deliver; ``track()`` returns once the event is there.
            spool_lease: seconds a silent process keeps its spooled events (default 30).
            on_error: called with ``(event, error)`` for an event that failed for good or
                whose outcome is unknown (the error carries its ``idempotency_key``).
            on_drop: called with ``(event, reason)`` for an event never applied and
                dropped (queue overflow, or closing gave up on a stall).
            shutdown_timeout: seconds closing may wait on a stalled delivery (no
                progress); ``None`` (default) waits as long as the server makes progress.
            retries: the backoff between attempts (default: the client's ``retry_config``).
            timeout: the per-attempt timeout (default: the client's).
        """
        from ._batcher import AsyncUsageBatcher  # noqa: PLC0415 (only workers need it)

        return AsyncUsageBatcher(
            self,
            mode=mode,
            max_batch_size=max_batch_size,
            flush_interval=flush_interval,
            max_concurrency=max_concurrency,
            max_requests_per_second=max_requests_per_second,
            max_queue=max_queue,
            overflow=overflow,
            block_timeout=block_timeout,
            max_attempts=max_attempts,
            coalesce=coalesce,
            spool_path=spool_path,
            spool=spool,
            spool_lease=spool_lease,
            deliver=deliver,
            on_error=on_error,
            on_drop=on_drop,
            shutdown_timeout=shutdown_timeout,
            retries=retries,
            timeout=timeout,
        )

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
        """Close this client's open batchers, then the pools it opened; safe to call twice.

        A batcher sends through its client, so what it still holds is delivered first
        (its own ``aclose()``); closing the pools first would fail every queued event
        unsent.
        """
        if self._closed:
            return
        try:
            for batcher in list(self._batchers):
                if not batcher.closed:
                    await batcher.aclose()
        finally:
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
            ssl=self._options.ssl,
            headers=self._headers,
            session=self._session,
            proxy=self._options.proxy,
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
