"""Async-first SDK for Autumn's balances API."""

from ._config import NOT_GIVEN, NotGiven, Timeout
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
    ResponseValidationError,
    UsageError,
)
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "AutumnDefaultError",
    "AutumnError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NOT_GIVEN",
    "NotFoundError",
    "NotGiven",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "Timeout",
    "UsageError",
    "__version__",
]
