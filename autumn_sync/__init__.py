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
        Deduction,
        Feature,
        Flag,
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
        RateLimitError,
        Request,
        Reset,
        Response,
        ResponseValidationError,
        RetryConfig,
        Rollover,
        Spool,
        SpooledEvent,
        SpoolError,
        Tier,
        Timeout,
        UsageError,
        UsageEvent,
    )

    from ._batcher import UsageBatcher
    from ._client import Autumn, Balances

#: Names this package defines itself; every other public name is autumn_async's.
_OWN: dict[str, str] = {
    "Autumn": "._client",
    "Balances": "._client",
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
    "Deduction",
    "Feature",
    "Flag",
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
    "RateLimitError",
    "Request",
    "Reset",
    "Response",
    "ResponseValidationError",
    "RetryConfig",
    "Rollover",
    "Spool",
    "SpoolError",
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
