"""The emulator's API error: a status, a code and a message, as the real server answers them."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ApiError",
    "customer_not_found",
    "entity_not_found",
    "feature_not_found",
    "invalid_inputs",
    "invalid_request",
]


class ApiError(Exception):
    """A failure the emulator reports as ``{"message", "code", "env"}`` with an HTTP status.

    State code raises it; the HTTP layer turns it into a response. ``headers`` are extra
    response headers (``Retry-After`` on 503, for instance).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"

    def body(self, env: str) -> dict[str, str]:
        """Return the JSON error body for ``env`` (``"sandbox"`` or ``"live"``)."""
        return {"message": self.message, "code": self.code, "env": env}


def invalid_inputs(message: str, status: int = 400) -> ApiError:
    """Body validation failed (400), or a refinement failed inside a handler (500)."""
    return ApiError(status, "invalid_inputs", message)


def invalid_request(message: str, status: int = 400) -> ApiError:
    """A business rule was broken (the server's default error code)."""
    return ApiError(status, "invalid_request", message)


def feature_not_found(feature_id: str) -> ApiError:
    """The feature id is not defined."""
    return ApiError(404, "feature_not_found", f"Feature {feature_id} not found")


def customer_not_found(customer_id: str) -> ApiError:
    """The customer does not exist (check and track do not auto-create at version 2.1)."""
    return ApiError(404, "customer_not_found", f"Customer {customer_id} not found")


def entity_not_found(entity_id: str) -> ApiError:
    """The entity does not exist for this customer."""
    return ApiError(404, "entity_not_found", f"Entity {entity_id} not found")
