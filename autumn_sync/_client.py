"""``Autumn``: the blocking client, a thin shell over ``AsyncAutumn``.

Every method runs its async twin on the private event loop (``_portal``) and blocks the
calling thread only. There is no logic here: same parameters, same defaults, same
exceptions; each delegate is written out with its own docstring, so documentation tools
see it (``tests/sync/test_parity.py`` keeps the pairs in step).
"""

from __future__ import annotations

import os
import ssl as _ssl
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from autumn_async._balances import AsyncBalances, Timestamp
from autumn_async._client import AsyncAutumn
from autumn_async._config import (
    DEFAULT_API_VERSION,
    DEFAULT_KEEPALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    NOT_GIVEN,
    NotGiven,
    Timeout,
)
from autumn_async._options import SecretKey
from autumn_async._process_bound import ProcessBound
from autumn_async._public import publish
from autumn_async._retry import RetryConfig

from . import _portal
from ._run import _run

if TYPE_CHECKING:
    from autumn_async._batcher import Spool, UsageEvent
    from autumn_async._http import AsyncTransport
    from autumn_async.models import (
        BalancesCheckResponse,
        BalancesCreateReset,
        BalancesCreateResponse,
        BalancesTrackResponse,
        BalancesUpdateResponse,
        Interval,
    )

    from ._batcher import UsageBatcher
    from ._customers import Customers
    from ._entities import Entities

__all__ = ["Autumn", "Balances"]


class Balances(ProcessBound):
    """Create, update, check and track balances (``autumn.balances``), blocking.

    Each method runs its twin on :class:`autumn_async.AsyncBalances` and blocks only the
    calling thread; parameters, defaults, results and errors are the same.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: AsyncBalances) -> None:
        self._inner = inner

    def create(
        self,
        *,
        feature_id: str,
        customer_id: str,
        entity_id: str | None = None,
        included: float | None = None,
        unlimited: bool | None = None,
        reset: BalancesCreateReset | Mapping[str, Any] | str | None = None,
        expires_at: Timestamp | None = None,
        granted_balance: float | None = None,
        included_grant: float | None = None,
        balance_id: str | None = None,
        rollover: Mapping[str, Any] | None = None,
        next_reset_at: Timestamp | None = None,
        idempotency_key: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesCreateResponse:
        """Grant a standalone balance of ``feature_id`` to a customer (or one of its entities).

        Args:
            feature_id: the feature to grant.
            customer_id: the customer receiving it.
            entity_id: one of the customer's entities, to grant to it instead.
            included: the amount granted (sent as ``granted_balance``).
            unlimited: ``True`` grants without limit.
            reset: makes it recur: ``"month"``, ``{"interval": "month", "interval_count": 1}``
                or a :class:`BalancesCreateReset`.
            expires_at: Unix ms or an aware datetime when the grant ends.
            granted_balance: the amount, under its wire name.
            included_grant: the amount, under today's server's name.
            balance_id: your id for the new balance (today's server only).
            rollover: what carries over at reset (today's server only).
            next_reset_at: when it first resets (today's server only).
            idempotency_key: sent as ``Idempotency-Key`` (default: a fresh UUID4), reused on
                every retry; an error whose outcome is unknown carries it.
            retries: this call's ``RetryConfig``, or ``None`` for one attempt.
            timeout: this call's per-attempt timeout (seconds or a ``Timeout``).
        """
        return _run(
            self._inner.create(
                feature_id=feature_id,
                customer_id=customer_id,
                entity_id=entity_id,
                included=included,
                unlimited=unlimited,
                reset=reset,
                expires_at=expires_at,
                granted_balance=granted_balance,
                included_grant=included_grant,
                balance_id=balance_id,
                rollover=rollover,
                next_reset_at=next_reset_at,
                idempotency_key=idempotency_key,
                retries=retries,
                timeout=timeout,
            )
        )

    def update(
        self,
        *,
        customer_id: str,
        feature_id: str,
        entity_id: str | None = None,
        current_balance: float | None = None,
        interval: Interval | str | None = None,
        granted_balance: float | None = None,
        usage: float | None = None,
        customer_entitlement_id: str | None = None,
        next_reset_at: Timestamp | None = None,
        add_to_balance: float | None = None,
        remaining: float | None = None,
        included_grant: float | None = None,
        balance_id: str | None = None,
        expires_at: Timestamp | None = None,
        idempotency_key: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesUpdateResponse:
        """Adjust a customer's balance of ``feature_id``.

        Args:
            customer_id: the customer whose balance changes.
            feature_id: the feature of the balance.
            entity_id: one of the customer's entities, to change its balance instead.
            current_balance: set what is left (alias ``remaining``).
            interval: pick the balance with this reset interval when there are several.
            granted_balance: set the grant (also sent as ``included_grant``).
            usage: set the usage.
            customer_entitlement_id: pick one balance row by its id.
            next_reset_at: Unix ms or an aware datetime of the next reset.
            add_to_balance: add to what is left (negative subtracts); not with
                ``current_balance``.
            remaining: set what is left (today's server's name).
            included_grant: set the grant (today's server's name).
            balance_id: pick the balance by the id given at create.
            expires_at: Unix ms or an aware datetime when the balance ends.
            idempotency_key: sent as ``Idempotency-Key`` (default: a fresh UUID4), reused on
                every retry; an error whose outcome is unknown carries it.
            retries: this call's ``RetryConfig``, or ``None`` for one attempt.
            timeout: this call's per-attempt timeout (seconds or a ``Timeout``).
        """
        return _run(
            self._inner.update(
                customer_id=customer_id,
                feature_id=feature_id,
                entity_id=entity_id,
                current_balance=current_balance,
                interval=interval,
                granted_balance=granted_balance,
                usage=usage,
                customer_entitlement_id=customer_entitlement_id,
                next_reset_at=next_reset_at,
                add_to_balance=add_to_balance,
                remaining=remaining,
                included_grant=included_grant,
                balance_id=balance_id,
                expires_at=expires_at,
                idempotency_key=idempotency_key,
                retries=retries,
                timeout=timeout,
            )
        )

    def check(
        self,
        *,
        customer_id: str,
        feature_id: str,
        entity_id: str | None = None,
        required_balance: float | None = None,
        properties: Mapping[str, Any] | None = None,
        send_event: bool | None = None,
        with_preview: bool | None = None,
        idempotency_key: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesCheckResponse:
        """May this customer use ``required_balance`` (default 1) of ``feature_id``?

        Args:
            customer_id: the customer asking.
            feature_id: the feature to use.
            entity_id: one of the customer's entities, to check its balance instead.
            required_balance: how much is needed (default 1).
            properties: event properties, recorded with ``send_event=True``.
            send_event: ``True`` checks and deducts atomically; a lost answer then raises
                :class:`OutcomeUnknownError`.
            with_preview: ``True`` adds upgrade information when denied.
            idempotency_key: with ``send_event=True`` only: sent as ``Idempotency-Key``
                (default: a fresh UUID4), reused on every retry.
            retries: this call's ``RetryConfig``, or ``None`` for one attempt.
            timeout: this call's per-attempt timeout (seconds or a ``Timeout``).

        A 202 from Autumn, or the client's ``fail_open`` fallback, returns ``allowed=True``
        with ``fallback=True``.
        """
        return _run(
            self._inner.check(
                customer_id=customer_id,
                feature_id=feature_id,
                entity_id=entity_id,
                required_balance=required_balance,
                properties=properties,
                send_event=send_event,
                with_preview=with_preview,
                idempotency_key=idempotency_key,
                retries=retries,
                timeout=timeout,
            )
        )

    def track(
        self,
        *,
        customer_id: str,
        feature_id: str | None = None,
        event_name: str | None = None,
        value: float | None = None,
        properties: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        entity_id: str | None = None,
        timestamp: Timestamp | None = None,
        overage_behavior: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesTrackResponse:
        """Record ``value`` (default 1; negative credits back) of usage.

        Args:
            customer_id: the customer who used it.
            feature_id: the feature used (exactly one of this or ``event_name``).
            event_name: an event name; every feature listing it is deducted.
            value: the amount (default 1).
            properties: event properties, kept with the event.
            idempotency_key: the event's key (default: a fresh UUID4), reused on every
                retry so a retry never counts twice; an ambiguous error carries it.
            entity_id: one of the customer's entities, to charge it instead.
            timestamp: when the usage happened (Unix ms or an aware ``datetime``, not in
                the future; default: now).
            overage_behavior: ``"cap"`` (default: deduct only what is left) or
                ``"overflow"`` (deduct it all, the balance may go below zero).
            retries: this call's ``RetryConfig``, or ``None`` for one attempt.
            timeout: this call's per-attempt timeout (seconds or a ``Timeout``).

        When a retry finds the first attempt applied, the result has ``replayed=True`` and
        no balance; a 202 (queued by Autumn) has ``queued=True``.
        """
        return _run(
            self._inner.track(
                customer_id=customer_id,
                feature_id=feature_id,
                event_name=event_name,
                value=value,
                properties=properties,
                idempotency_key=idempotency_key,
                entity_id=entity_id,
                timestamp=timestamp,
                overage_behavior=overage_behavior,
                retries=retries,
                timeout=timeout,
            )
        )


class Autumn(ProcessBound):
    """Client for Autumn's balances API, for blocking code (scripts, Django, Flask, Celery).

    Takes the same keyword-only options as :class:`autumn_async.AsyncAutumn` (less
    ``session``: an aiohttp session belongs to one event loop, and this client runs on
    its own). Calls run on one private event loop per process, on a daemon thread; they
    are safe from many threads at once, from inside a running event loop (only the
    caller blocks), and in forked children. Use ``with Autumn(...) as autumn:`` or
    :meth:`close`.
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
        transport: AsyncTransport | None = None,
        proxy: str | None = None,
        trust_env: bool = False,
        allow_insecure_http: bool = False,
    ) -> None:
        # Wrapped at once: a construction error passes through this frame, and its locals
        # must not hold the key (tracebacks with locals, error trackers).
        secret = SecretKey.wrap(secret_key)
        del secret_key
        self._async = AsyncAutumn(
            secret_key=secret,  # type: ignore[arg-type]
            server_url=server_url,
            x_api_version=x_api_version,
            timeout=timeout,
            retry_config=retry_config,
            fail_open=fail_open,
            max_connections=max_connections,
            keepalive_timeout=keepalive_timeout,
            ssl=ssl,
            transport=transport,
            proxy=proxy,
            trust_env=trust_env,
            allow_insecure_http=allow_insecure_http,
        )
        self._balances = Balances(self._async.balances)
        self._customers: Customers | None = None
        self._entities: Entities | None = None
        _portal.prepare()

    def __repr__(self) -> str:
        inner = getattr(self, "_async", None)  # None while building (tracebacks with locals)
        return repr(inner).replace("AsyncAutumn(", "Autumn(", 1) if inner else "Autumn(<not built>)"

    # Options are read-only, as on AsyncAutumn.

    @property
    def server_url(self) -> str:
        """The base URL requests go to, without a trailing slash."""
        return self._async.server_url

    @property
    def x_api_version(self) -> str:
        """Sent as ``x-api-version`` on every request."""
        return self._async.x_api_version

    @property
    def timeout(self) -> Timeout:
        """The per-attempt time limits of every call (overridable per call)."""
        return self._async.timeout

    @property
    def retry_config(self) -> RetryConfig:
        """How calls are retried (overridable per call with ``retries=``)."""
        return self._async.retry_config

    @property
    def fail_open(self) -> bool:
        """Whether a ``check`` without an answer returns a marked ``allowed=True``."""
        return self._async.fail_open

    @property
    def max_connections(self) -> int:
        """Size of the connection pool."""
        return self._async.max_connections

    @property
    def keepalive_timeout(self) -> float:
        """Seconds an idle pooled connection is kept."""
        return self._async.keepalive_timeout

    @property
    def trust_env(self) -> bool:
        """Whether the proxy was read from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``."""
        return self._async.trust_env

    @property
    def allow_insecure_http(self) -> bool:
        """Whether a plain ``http://`` server other than this machine was allowed."""
        return self._async.allow_insecure_http

    @property
    def account_fingerprint(self) -> str:
        """A stable hash of ``server_url`` and the secret key that reveals nothing of the key.

        Spools tag every event with it, so that events accepted for one account are never
        sent with another's key (a sandbox spool read by a live worker stays put).
        """
        return self._async.account_fingerprint

    @property
    def customers(self) -> Customers:
        """The customer operations: ``get_or_create``, ``get``, ``update``, ``delete``, ``list``."""
        if self._customers is None:
            from ._customers import Customers  # noqa: PLC0415

            self._customers = Customers(self._async.customers)
        return self._customers

    @property
    def entities(self) -> Entities:
        """The entity operations: ``create``, ``get``, ``list``, ``update``, ``delete``."""
        if self._entities is None:
            from ._entities import Entities  # noqa: PLC0415

            self._entities = Entities(self._async.entities)
        return self._entities

    @property
    def balances(self) -> Balances:
        """The balances operations: ``create``, ``update``, ``check``, ``track``."""
        return self._balances

    @property
    def async_client(self) -> AsyncAutumn:
        """The ``AsyncAutumn`` this client drives (for code that mixes both styles)."""
        return self._async

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
    ) -> UsageBatcher:
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
        from ._batcher import UsageBatcher  # noqa: PLC0415 (only workers need it)

        return UsageBatcher(
            self._async,
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
        """Whether :meth:`close` was called."""
        return self._async.closed

    def warm_up(self) -> None:
        """Do the first call's one-off work now (import the HTTP stack, open the pool).

        Optional: without it the first call pays about 0.1 s once per process.
        """
        _run(self._async.warm_up())

    def close(self) -> None:
        """Close this client's open batchers, then the pools it opened; safe to call twice."""
        _run(self._async.aclose())

    def __enter__(self) -> Autumn:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


publish(globals(), ("Autumn", "Balances"), "autumn_sync")
