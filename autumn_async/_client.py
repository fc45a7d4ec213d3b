"""``AsyncAutumn``: options, lifecycle and the request pipeline (send, retry, parse)."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl as _ssl
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._checks import new_key
from ._config import (
    DEFAULT_API_VERSION,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_SERVER_URL,
    ENV_SECRET_KEY,
    ENV_SERVER_URL,
    NOT_GIVEN,
    NotGiven,
    Timeout,
    coerce_timeout,
)
from ._errors import (
    APIConnectionError,
    AutumnError,
    ConflictError,
    InternalServerError,
    ResponseValidationError,
    UsageError,
    error_from_response,
)
from ._http import Request
from ._log import sdk_logger
from ._retry import NO_RETRIES, RetryConfig, RetryState
from ._version import __version__

if TYPE_CHECKING:
    import aiohttp

    from ._balances import AsyncBalances
    from ._batcher import AsyncUsageBatcher
    from ._http import AsyncTransport

__all__ = ["AsyncAutumn"]

logger = sdk_logger("http")
retry_logger = sdk_logger("retry")
_T = TypeVar("_T")
USER_AGENT = f"autumn-balances-python/{__version__}"


class Replayed(Exception):
    """A retry met 409 ``duplicate_idempotency_key``: an earlier attempt was applied."""

    def __init__(self, conflict: ConflictError) -> None:
        super().__init__(conflict.message)
        self.conflict = conflict


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
        self._transport: AsyncTransport | None = transport
        self._closed = False
        # Built once: the hot path only adds an Idempotency-Key where needed.
        self._headers: dict[str, str] = {
            "Authorization": f"Bearer {key}",
            "x-api-version": x_api_version,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._urls: dict[str, str] = {}
        self._balances: AsyncBalances | None = None

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

            self._balances = AsyncBalances(self)
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
        transport = self._get_transport()
        session_for_loop = getattr(transport, "_session", None)
        if session_for_loop is not None:
            await session_for_loop()

    async def aclose(self) -> None:
        """Close the connection pools this client opened; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._transport is not None:
            await self._transport.aclose()

    async def __aenter__(self) -> AsyncAutumn:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self, _warnings: Any = warnings) -> None:
        transport = getattr(self, "_transport", None)
        if getattr(self, "_closed", True) or transport is None:
            return
        if getattr(transport, "_sessions", None):
            _warnings.warn(
                f"{self!r} was never closed; use 'async with' or 'await aclose()'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    # -- pipeline ----------------------------------------------------------------------

    def _get_transport(self) -> AsyncTransport:
        transport = self._transport
        if transport is None:
            module = _import_transport()
            transport = module.AiohttpTransport(
                max_connections=self.max_connections,
                max_connections_per_host=0,  # one host: max_connections bounds it
                keepalive_timeout=self.keepalive_timeout,
                default_timeout=self.timeout,
                ssl=self._ssl,
                headers=self._headers,
                session=self._session,
            )
            self._transport = transport
        return transport

    def _url(self, path: str) -> str:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self.server_url + path
        return url

    async def _send(
        self,
        operation: str,
        path: str,
        body: Mapping[str, Any],
        *,
        retries: RetryConfig | NotGiven | None,
        timeout: float | Timeout | NotGiven,
        idempotency_header: bool,
        replay_safe: bool,
    ) -> tuple[int, bytes]:
        """Send with retries; return (status, body) of a 2xx answer or raise.

        Raises :class:`Replayed` when a retry is refused as a duplicate of an earlier
        attempt that may have been applied.
        """
        if self._closed:
            raise UsageError("this client is closed; create a new one", field=None)
        serde = _serde or _load_serde()
        try:
            payload = serde.dumps(body)
        except serde.SerdeError as exc:
            raise UsageError(f"the request body is not valid JSON: {exc}") from None
        if retries is NOT_GIVEN:
            config = self.retry_config
        elif retries is None:
            config = NO_RETRIES
        elif isinstance(retries, RetryConfig):
            config = retries
        else:
            raise UsageError("retries must be a RetryConfig or None", field="retries")
        per_attempt = self.timeout if timeout is NOT_GIVEN else coerce_timeout(timeout)
        extra = {"Idempotency-Key": new_key()} if idempotency_header else _NO_HEADERS
        transport = self._transport or self._get_transport()
        request = Request("POST", self._url(path), payload, extra, per_attempt)
        state: RetryState | None = None
        maybe_applied_before = False
        attempt = 0
        debug = logger.isEnabledFor(logging.DEBUG)
        while True:
            attempt += 1
            started = time.perf_counter() if debug else 0.0
            error: AutumnError
            try:
                response = await transport.send(request, self._headers)
            except APIConnectionError as exc:
                error = exc
                if debug:
                    _log_attempt(operation, attempt, None, started, exc)
            else:
                status = response.status
                if debug:
                    _log_attempt(operation, attempt, status, started, None)
                if 200 <= status < 300:
                    return status, response.body
                error = error_from_response(
                    status, response.headers, response.body, now=time.time()
                )
                if (
                    status == 409
                    and error.code == "duplicate_idempotency_key"
                    and maybe_applied_before
                    and isinstance(error, ConflictError)
                ):
                    raise Replayed(error)
            if state is None:
                state = RetryState(config)
            state.attempts = attempt
            wait = state.next_wait(error, replay_safe=replay_safe)
            if wait is None:
                raise error
            if _maybe_applied(error):
                maybe_applied_before = True
            if retry_logger.isEnabledFor(logging.DEBUG):
                retry_logger.debug(
                    "%s: retrying in %.3fs after %s", operation, wait, type(error).__name__
                )
            await asyncio.sleep(wait)

    def _parse(self, cls: type[_T], status: int, body: bytes) -> _T:
        serde = _serde or _load_serde()
        try:
            return serde.structure(serde.loads(body), cls)  # type: ignore[no-any-return]
        except (serde.SerdeError, RecursionError) as exc:
            text = body[:10_000].decode("utf-8", errors="replace")
            reason = "is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise ResponseValidationError(
                f"Autumn's {status} answer does not fit {cls.__name__}: {reason}",
                status_code=status,
                body=text,
            ) from None


#: Shared by every call without extra headers; never mutated.
_NO_HEADERS: Mapping[str, str] = {}
# cattrs is imported with the first request, not with the package.
_serde: Any = None


def _load_serde() -> Any:
    global _serde  # noqa: PLW0603 (a lazily imported module, set once)
    from . import _serde as module  # noqa: PLC0415

    _serde = module
    return module


def _maybe_applied(error: AutumnError) -> bool:
    if isinstance(error, APIConnectionError):
        return error.maybe_applied
    return isinstance(error, InternalServerError)


def _log_attempt(
    operation: str, attempt: int, status: int | None, started: float, error: Exception | None
) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    if error is None:
        logger.debug(
            "%s attempt=%d status=%s elapsed=%.1fms", operation, attempt, status, elapsed_ms
        )
    else:
        logger.debug(
            "%s attempt=%d error=%s elapsed=%.1fms",
            operation,
            attempt,
            type(error).__name__,
            elapsed_ms,
        )


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
