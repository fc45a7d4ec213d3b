"""Async-first SDK for Autumn's balances API: ``AsyncAutumn`` and everything it returns.

Names are loaded on first use (PEP 562), so ``import autumn_async`` costs almost
nothing and aiohttp is imported only when the first request is made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from ._balances import AsyncBalances
    from ._batcher import (
        AsyncUsageBatcher,
        BatcherStats,
        Spool,
        SpooledEvent,
        SpoolError,
        SpoolFullError,
        SpoolUnavailableError,
        UsageEvent,
    )
    from ._client import AsyncAutumn
    from ._config import NOT_GIVEN, NotGiven, Timeout
    from ._customers import AsyncCustomers
    from ._entities import AsyncEntities
    from ._errors import (
        APIConnectionError,
        APITimeoutError,
        AuthenticationError,
        AutumnDefaultError,
        AutumnError,
        BadRequestError,
        ConflictError,
        InternalServerError,
        NotFoundError,
        OutcomeUnknownError,
        PermissionDeniedError,
        RateLimitError,
        RedirectError,
        ResponseValidationError,
        UsageError,
    )
    from ._fleet._redis_spool import RedisSpool
    from ._http import AsyncTransport, MockTransport, Request, Response
    from ._retry import BackoffStrategy, RetryConfig
    from .models import (
        Balance,
        BalancesCheckResponse,
        BalancesCreateInterval,
        BalancesCreateReset,
        BalancesCreateResponse,
        BalancesTrackResponse,
        BalancesUpdateInterval,
        BalancesUpdateResponse,
        Breakdown,
        CreditSchemaItem,
        Customer,
        CustomersDeleteResponse,
        CustomersListResponse,
        Deduction,
        EntitiesDeleteResponse,
        EntitiesListResponse,
        Entity,
        Feature,
        FeatureDisplay,
        Flag,
        FreeTrial,
        Interval,
        Preview,
        Price,
        Product,
        ProductItem,
        ProductItemConfig,
        ProductItemDisplay,
        ProductProperties,
        Reset,
        Rollover,
        RolloverConfig,
        Tier,
    )

#: Public name -> the private module that defines it.
_SOURCES: dict[str, str] = {
    "AsyncAutumn": "._client",
    "AsyncBalances": "._balances",
    "AsyncCustomers": "._customers",
    "AsyncEntities": "._entities",
    "AsyncUsageBatcher": "._batcher",
    "BatcherStats": "._batcher",
    "UsageEvent": "._batcher",
    "Spool": "._batcher",
    "SpooledEvent": "._batcher",
    "SpoolError": "._batcher",
    "SpoolFullError": "._batcher",
    "SpoolUnavailableError": "._batcher",
    "NOT_GIVEN": "._config",
    "NotGiven": "._config",
    "Timeout": "._config",
    "AsyncTransport": "._http",
    "MockTransport": "._http",
    "Request": "._http",
    "Response": "._http",
    "RedisSpool": "._fleet._redis_spool",
    "BackoffStrategy": "._retry",
    "RetryConfig": "._retry",
    **dict.fromkeys(
        [
            "APIConnectionError",
            "APITimeoutError",
            "AuthenticationError",
            "AutumnDefaultError",
            "AutumnError",
            "BadRequestError",
            "ConflictError",
            "InternalServerError",
            "NotFoundError",
            "OutcomeUnknownError",
            "PermissionDeniedError",
            "RateLimitError",
            "RedirectError",
            "ResponseValidationError",
            "UsageError",
        ],
        "._errors",
    ),
    **dict.fromkeys(
        [
            "Balance",
            "BalancesCheckResponse",
            "BalancesCreateInterval",
            "BalancesCreateReset",
            "BalancesCreateResponse",
            "BalancesTrackResponse",
            "BalancesUpdateInterval",
            "BalancesUpdateResponse",
            "Breakdown",
            "CreditSchemaItem",
            "Customer",
            "CustomersDeleteResponse",
            "CustomersListResponse",
            "Deduction",
            "EntitiesDeleteResponse",
            "EntitiesListResponse",
            "Entity",
            "Feature",
            "FeatureDisplay",
            "Flag",
            "FreeTrial",
            "Interval",
            "Preview",
            "Price",
            "Product",
            "ProductItem",
            "ProductItemConfig",
            "ProductItemDisplay",
            "ProductProperties",
            "Reset",
            "Rollover",
            "RolloverConfig",
            "Tier",
        ],
        ".models",
    ),
}

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AsyncAutumn",
    "AsyncBalances",
    "AsyncCustomers",
    "AsyncEntities",
    "AsyncTransport",
    "AsyncUsageBatcher",
    "AuthenticationError",
    "AutumnDefaultError",
    "AutumnError",
    "BackoffStrategy",
    "BadRequestError",
    "Balance",
    "BalancesCheckResponse",
    "BalancesCreateInterval",
    "BalancesCreateReset",
    "BalancesCreateResponse",
    "BalancesTrackResponse",
    "BalancesUpdateInterval",
    "BalancesUpdateResponse",
    "BatcherStats",
    "Breakdown",
    "ConflictError",
    "CreditSchemaItem",
    "Customer",
    "CustomersDeleteResponse",
    "CustomersListResponse",
    "Deduction",
    "EntitiesDeleteResponse",
    "EntitiesListResponse",
    "Entity",
    "Feature",
    "FeatureDisplay",
    "Flag",
    "FreeTrial",
    "InternalServerError",
    "Interval",
    "MockTransport",
    "NOT_GIVEN",
    "NotFoundError",
    "NotGiven",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "Preview",
    "Price",
    "Product",
    "ProductItem",
    "ProductItemConfig",
    "ProductItemDisplay",
    "ProductProperties",
    "RateLimitError",
    "RedirectError",
    "RedisSpool",
    "Request",
    "Reset",
    "Response",
    "ResponseValidationError",
    "RetryConfig",
    "Rollover",
    "RolloverConfig",
    "Spool",
    "SpoolError",
    "SpoolFullError",
    "SpoolUnavailableError",
    "SpooledEvent",
    "Tier",
    "Timeout",
    "UsageError",
    "UsageEvent",
    "__version__",
]


def __getattr__(name: str) -> object:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'autumn_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(source, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
