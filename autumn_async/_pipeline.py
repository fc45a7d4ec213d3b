"""The request pipeline: encode, send with retries under one policy, parse.

Every operation (the balances resources, customers, entities, the usage batcher) goes
through :meth:`Pipeline.send` and :meth:`Pipeline.parse`; nothing else talks to the
transport. The retry decisions are :func:`._retry.decide`'s; this module only runs them:
it sleeps, logs each attempt at DEBUG, and raises what the policy says.

The narrow API (stable for the SDK's own modules):

- ``await pipeline.send(operation, path, body, *, retries, timeout, idempotency_key=None,
  key_in_body=False) -> (status, body_bytes)`` for a 2xx answer, else raises. A call with
  an ``idempotency_key`` (or ``key_in_body=True``: ``track``/``batch_track`` carry their
  keys in the JSON) is state-changing and follows the policy's rules for those.
  ``idempotency_key`` is sent as the ``Idempotency-Key`` header unless ``key_in_body``.
- :class:`Replayed` is raised when a retry met a *confirmed* 409 duplicate of this call's
  key: an earlier attempt was applied and its answer lost.
- ``pipeline.parse(cls, status, body)`` builds the response model or raises
  :class:`ResponseValidationError`.
- ``await pipeline.call(cls, route, body, *, retries, timeout, mutates, replay=None)``:
  ``send`` to ``/v1/{route}`` then ``parse``, for the RPC-style resources (customers,
  entities); a mutation gets a fresh ``Idempotency-Key`` and ``replay()`` answers for it
  when an earlier attempt was applied and its answer lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._checks import new_key
from ._config import NOT_GIVEN, NotGiven, Timeout, coerce_timeout
from ._errors import (
    APIConnectionError,
    AutumnError,
    ConflictError,
    OutcomeUnknownError,
    ResponseValidationError,
    UsageError,
    error_from_response,
    redact_secret,
)
from ._http import Request
from ._log import sdk_logger
from ._process_bound import ProcessBound
from ._retry import NO_RETRIES, Action, CallState, RetryConfig, decide

if TYPE_CHECKING:
    from ._http import AsyncTransport

__all__ = ["Pipeline", "Replayed"]

logger = sdk_logger("http")
retry_logger = sdk_logger("retry")
_T = TypeVar("_T")


class Replayed(Exception):
    """A retry met a confirmed 409 ``duplicate_idempotency_key``: an earlier attempt applied."""

    def __init__(self, conflict: ConflictError, idempotency_key: str | None) -> None:
        super().__init__(conflict.message)
        self.conflict = conflict
        self.idempotency_key = idempotency_key


class Pipeline(ProcessBound):
    """Send requests for one client: its URL, headers, defaults and transport."""

    __slots__ = (
        "_closed",
        "_headers",
        "_make_transport",
        "_retry_config",
        "_secret",
        "_server_url",
        "_timeout",
        "_transport",
        "_urls",
    )

    def __init__(
        self,
        *,
        server_url: str,
        headers: Mapping[str, str],
        timeout: Timeout,
        retry_config: RetryConfig,
        transport: AsyncTransport | None,
        make_transport: Callable[[], AsyncTransport],
        secret: str,
    ) -> None:
        # Kept only to redact it from what the server sends back; never bound to a local
        # in a frame on a raise path (tracebacks with locals would show it).
        self._secret = secret
        self._server_url = server_url
        self._headers = headers
        self._timeout = timeout
        self._retry_config = retry_config
        self._transport = transport
        self._make_transport = make_transport
        self._urls: dict[str, str] = {}
        self._closed = False

    @property
    def transport(self) -> AsyncTransport:
        """The transport, built on first use."""
        transport = self._transport
        if transport is None:
            transport = self._transport = self._make_transport()
        return transport

    @property
    def transport_built(self) -> AsyncTransport | None:
        """The transport if one exists yet (closing must not build one)."""
        return self._transport

    @property
    def retry_config(self) -> RetryConfig:
        """The client's default retry configuration."""
        return self._retry_config

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called: every later send is refused."""
        return self._closed

    def close(self) -> None:
        """Refuse every later send (the client closes the transport)."""
        self._closed = True

    def _url(self, path: str) -> str:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self._server_url + path
        return url

    def _config(self, retries: RetryConfig | NotGiven | None) -> RetryConfig:
        if retries is NOT_GIVEN:
            return self._retry_config
        if retries is None:
            return NO_RETRIES
        if isinstance(retries, RetryConfig):
            return retries
        raise UsageError("retries must be a RetryConfig or None", field="retries")

    async def send(
        self,
        operation: str,
        path: str,
        body: Any,
        *,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
        idempotency_key: str | None = None,
        key_in_body: bool = False,
    ) -> tuple[int, bytes]:
        """POST ``body`` as JSON to ``path``; return ``(status, body)`` of a 2xx answer.

        Raises the error of the last attempt (with ``idempotency_key`` and, when some
        attempt may have been applied, ``maybe_applied=True`` set on it),
        :class:`OutcomeUnknownError` when a duplicate could not be confirmed within the
        budget, or :class:`Replayed` for a confirmed duplicate.
        """
        if self._closed:
            raise UsageError("this client is closed; create a new one", field=None)
        serde = _serde or _load_serde()
        try:
            payload = serde.dumps(body)
        except serde.SerdeError as exc:
            raise UsageError(f"the request body is not valid JSON: {exc}") from None
        config = self._config(retries)
        per_attempt = self._timeout if timeout is NOT_GIVEN else coerce_timeout(timeout)
        extra = (
            {"Idempotency-Key": idempotency_key}
            if idempotency_key is not None and not key_in_body
            else _NO_HEADERS
        )
        transport = self._transport or self.transport
        request = Request("POST", self._url(path), payload, extra, per_attempt)
        changing = idempotency_key is not None or key_in_body
        # Built at the first failure: a call that succeeds at once pays one clock read.
        state: CallState | None = None
        attempt = 0
        debug = logger.isEnabledFor(logging.DEBUG)
        in_flight = False
        try:
            while True:
                attempt += 1
                started_at = time.monotonic()
                started = time.perf_counter() if debug else 0.0
                error: AutumnError
                in_flight = True
                try:
                    response = await transport.send(request, self._headers)
                except ResponseValidationError as exc:
                    # An answer too large or in an encoding never asked for: the request
                    # was received, so a state-changing call may have been applied.
                    if changing:
                        exc.idempotency_key = idempotency_key
                        exc.maybe_applied = True
                    raise
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
                        status,
                        response.headers,
                        response.body,
                        now=time.time(),
                        secret=self._secret,
                    )
                in_flight = False
                if state is None:
                    state = CallState(
                        config, state_changing=changing, attempt_timeout=per_attempt.total
                    )
                state.begin_attempt(started_at)
                decision = decide(error, state)
                action = decision.action
                if action is Action.RETRY:
                    if retry_logger.isEnabledFor(logging.DEBUG):
                        retry_logger.debug(
                            "%s: retrying in %.3fs after %s",
                            operation,
                            decision.wait,
                            type(error).__name__,
                        )
                    await asyncio.sleep(decision.wait)
                    continue
                if action is Action.REPLAYED:
                    assert isinstance(error, ConflictError)
                    raise Replayed(error, idempotency_key)
                if action is Action.OUTCOME_UNKNOWN:
                    assert isinstance(error, ConflictError)
                    raise outcome_unknown(operation, error, idempotency_key) from None
                if changing:
                    error.idempotency_key = idempotency_key
                    if decision.maybe_applied:
                        error.maybe_applied = True
                raise error
        except asyncio.CancelledError as cancelled:
            # Cut short mid-call: if an attempt was in flight or may have been applied,
            # the outcome is unknown; the key lets the caller resend without a double.
            maybe = in_flight or (state is not None and state.maybe_applied)
            if changing and maybe:
                cancelled.idempotency_key = idempotency_key  # type: ignore[attr-defined]
                cancelled.maybe_applied = True  # type: ignore[attr-defined]
            raise

    async def call(
        self,
        cls: type[_T],
        route: str,
        body: Any,
        *,
        retries: RetryConfig | NotGiven | None,
        timeout: float | Timeout | NotGiven,
        mutates: bool,
        replay: Callable[[], Awaitable[_T]] | None = None,
    ) -> _T:
        """POST ``body`` to ``/v1/{route}`` and parse the answer as ``cls``.

        A mutation (``mutates=True``) is sent under a fresh ``Idempotency-Key``, reused on
        every retry; when a retry finds an earlier attempt applied and its answer lost,
        ``replay()`` gives the result (for example by reading what is there now).
        """
        key = new_key() if mutates else None
        try:
            status, raw = await self.send(
                route, f"/v1/{route}", body, retries=retries, timeout=timeout, idempotency_key=key
            )
        except Replayed:
            if replay is None:
                raise
            return await replay()
        return self.parse(cls, status, raw, idempotency_key=key)

    def parse(
        self, cls: type[_T], status: int, body: bytes, *, idempotency_key: str | None = None
    ) -> _T:
        """Build ``cls`` from a success answer, or raise :class:`ResponseValidationError`.

        The error carries ``idempotency_key`` (the call was applied; only its answer is
        unreadable).
        """
        serde = _serde or _load_serde()
        try:
            return serde.structure(serde.loads(body), cls)  # type: ignore[no-any-return]
        except (serde.SerdeError, RecursionError) as exc:
            text = redact_secret(body[:10_000].decode("utf-8", errors="replace"), self._secret)
            reason = "is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            reason = redact_secret(reason, self._secret)
            error = ResponseValidationError(
                f"Autumn's {status} answer does not fit {cls.__name__}: {reason}",
                status_code=status,
                body=text,
            )
            error.idempotency_key = idempotency_key
            # A state-changing call answered 2xx was applied: "maybe_applied=False" would
            # tell the caller nothing happened, and a resend under a new key would double it.
            error.maybe_applied = idempotency_key is not None
            raise error from None


#: Why an unconfirmed duplicate leaves the outcome unknown.
UNCONFIRMED = (
    "an earlier attempt reached Autumn and its answer was lost; a retry was refused as a "
    "duplicate while that attempt may still have been running, and the retry budget ran out "
    "before it could be confirmed. The change may or may not have been applied; resend "
    "with the same idempotency_key to find out."
)


def outcome_unknown(
    operation: str,
    conflict: ConflictError,
    idempotency_key: str | None,
    reason: str = UNCONFIRMED,
) -> OutcomeUnknownError:
    """The error for a duplicate whose call's outcome cannot be known (``reason`` says why)."""
    error = OutcomeUnknownError(
        f"{operation}: {reason}",
        status_code=conflict.status_code,
        code=conflict.code,
        env=conflict.env,
        headers=conflict.headers,
        body=conflict.body,
    )
    error.idempotency_key = idempotency_key
    error.maybe_applied = True
    return error


#: Shared by every call without extra headers; never mutated.
_NO_HEADERS: Mapping[str, str] = {}
# cattrs is imported with the first request, not with the package.
_serde: Any = None


def _load_serde() -> Any:
    global _serde  # noqa: PLW0603 (a lazily imported module, set once)
    from . import _serde as module  # noqa: PLC0415

    _serde = module
    return module


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
