"""Blocking SDK for Autumn's balances API: ``Autumn``, as the API reference shows it.

Models, errors and retry settings are the very objects of ``autumn_async``, re-exported:
``autumn_sync.NotFoundError is autumn_async.NotFoundError``. Names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import autumn_async
from autumn_async import __version__

if TYPE_CHECKING:
    from autumn_async import (
        NOT_GIVEN,
        APIConnectionError,
        APITimeoutError,
        AuthenticationError,
        AutumnDefaultError,
        AutumnError,
        BackoffStrategy,
        BadRequestError,
        Balance,
        BalancesCheckResponse,
        BalancesCreateInterval,
        BalancesCreateReset,
        BalancesCreateResponse,
        BalancesTrackResponse,
        BalancesUpdateInterval,
        BalancesUpdateResponse,
        BatcherStats,
        Breakdown,
        ConflictError,
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
        InternalServerError,
        Interval,
        MockTransport,
        NotFoundError,
        NotGiven,
        OutcomeUnknownError,
        PermissionDeniedError,
        Preview,
        Price,
        Product,
        ProductItem,
        ProductItemConfig,
        ProductItemDisplay,
        ProductProperties,
        RateLimitError,
        RedirectError,
        RedisSpool,
        Request,
        Reset,
        Response,
        ResponseValidationError,
        RetryConfig,
        Rollover,
        RolloverConfig,
        Spool,
        SpooledEvent,
        SpoolError,
        SpoolFullError,
        SpoolUnavailableError,
        Tier,
        Timeout,
        UsageError,
        UsageEvent,
    )

    from ._batcher import UsageBatcher
    from ._client import Autumn, Balances
    from ._customers import Customers
    from ._entities import Entities

#: Names this package defines itself; every other public name is autumn_async's.
_OWN: dict[str, str] = {
    "Autumn": "._client",
    "Balances": "._client",
    "Customers": "._customers",
    "Entities": "._entities",
    "UsageBatcher": "._batcher",
}
__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "Autumn",
    "AutumnDefaultError",
    "AutumnError",
    "BackoffStrategy",
    "BadRequestError",
    "Balance",
    "Balances",
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
    "Customers",
    "CustomersDeleteResponse",
    "CustomersListResponse",
    "Deduction",
    "Entities",
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
    "UsageBatcher",
    "UsageError",
    "UsageEvent",
    "__version__",
]


def __getattr__(name: str) -> object:
    source = _OWN.get(name)
    if source is not None:
        value = getattr(importlib.import_module(source, __name__), name)
    elif name in __all__:
        value = getattr(autumn_async, name)
    else:
        raise AttributeError(f"module 'autumn_sync' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
