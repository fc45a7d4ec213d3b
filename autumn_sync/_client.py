"""``Autumn``: the blocking client, a thin shell over ``AsyncAutumn``.

Every method runs its async twin on the private event loop (``_portal``) and blocks the
calling thread only. There is no logic here: same parameters, same defaults, same
docstrings, same exceptions (``tests/sync/test_parity.py`` keeps it so).
"""

from __future__ import annotations

import ssl as _ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

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
from autumn_async._retry import RetryConfig

from . import _portal

if TYPE_CHECKING:
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

__all__ = ["Autumn", "Balances"]


_T = TypeVar("_T")


_run = _portal.call


class Balances:
    """Create, update, check and track balances (``autumn.balances``), blocking."""

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
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesCreateResponse:
        return _run(self._inner.create(feature_id=feature_id, customer_id=customer_id, entity_id=entity_id, included=included, unlimited=unlimited, reset=reset, expires_at=expires_at, granted_balance=granted_balance, included_grant=included_grant, balance_id=balance_id, rollover=rollover, next_reset_at=next_reset_at, retries=retries, timeout=timeout))  # fmt: skip  # noqa: E501

    create.__doc__ = AsyncBalances.create.__doc__

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
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesUpdateResponse:
        return _run(self._inner.update(customer_id=customer_id, feature_id=feature_id, entity_id=entity_id, current_balance=current_balance, interval=interval, granted_balance=granted_balance, usage=usage, customer_entitlement_id=customer_entitlement_id, next_reset_at=next_reset_at, add_to_balance=add_to_balance, remaining=remaining, included_grant=included_grant, balance_id=balance_id, expires_at=expires_at, retries=retries, timeout=timeout))  # fmt: skip  # noqa: E501

    update.__doc__ = AsyncBalances.update.__doc__

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
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesCheckResponse:
        return _run(self._inner.check(customer_id=customer_id, feature_id=feature_id, entity_id=entity_id, required_balance=required_balance, properties=properties, send_event=send_event, with_preview=with_preview, retries=retries, timeout=timeout))  # fmt: skip  # noqa: E501

    check.__doc__ = AsyncBalances.check.__doc__

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
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesTrackResponse:
        return _run(self._inner.track(customer_id=customer_id, feature_id=feature_id, event_name=event_name, value=value, properties=properties, idempotency_key=idempotency_key, entity_id=entity_id, retries=retries, timeout=timeout))  # fmt: skip  # noqa: E501

    track.__doc__ = AsyncBalances.track.__doc__


class Autumn:
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
    ) -> None:
        self._async = AsyncAutumn(
            secret_key=secret_key,
            server_url=server_url,
            x_api_version=x_api_version,
            timeout=timeout,
            retry_config=retry_config,
            fail_open=fail_open,
            max_connections=max_connections,
            keepalive_timeout=keepalive_timeout,
            ssl=ssl,
            transport=transport,
        )
        self.balances = Balances(self._async.balances)
        _portal.prepare()

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncAutumn(", "Autumn(", 1)

    @property
    def async_client(self) -> AsyncAutumn:
        """The ``AsyncAutumn`` this client drives (for code that mixes both styles)."""
        return self._async

    def batcher(self, **options: Any) -> UsageBatcher:
        from ._batcher import UsageBatcher  # noqa: PLC0415 (only workers need it)

        return UsageBatcher(self._async, **options)

    batcher.__doc__ = AsyncAutumn.batcher.__doc__

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._async.closed

    def warm_up(self) -> None:
        return _run(self._async.warm_up())

    warm_up.__doc__ = AsyncAutumn.warm_up.__doc__

    def close(self) -> None:
        return _run(self._async.aclose())

    close.__doc__ = AsyncAutumn.aclose.__doc__

    def __enter__(self) -> Autumn:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
