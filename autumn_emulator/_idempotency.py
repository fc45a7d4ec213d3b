"""The idempotency store (spec §9.5): claims with a time to live, per environment.

A claim is taken before the work; the caller releases it when the request fails with a
status of 400 or more other than 409, and keeps it on success and on 409, as today's
server does. Body keys are claimed as ``track:<key>``; the ``Idempotency-Key`` header is
a separate claim under its own name.
"""

from __future__ import annotations

from collections.abc import Callable

from ._api_errors import ApiError

__all__ = ["DEFAULT_TTL_MS", "IdempotencyStore", "duplicate_key"]

#: How long a claimed key blocks repeats: 24 hours.
DEFAULT_TTL_MS = 24 * 60 * 60 * 1000


def duplicate_key(key: str) -> ApiError:
    """The 409 answered to a repeated key."""
    return ApiError(
        409,
        "duplicate_idempotency_key",
        f"Another request with idempotency key {key} has already been received",
    )


class IdempotencyStore:
    """Claimed keys with their expiry, read through an injectable millisecond clock."""

    def __init__(self, clock: Callable[[], int], ttl_ms: int = DEFAULT_TTL_MS) -> None:
        self._clock = clock
        self.ttl_ms = ttl_ms
        self._expiry: dict[tuple[str, str], int] = {}

    def claim(self, env: str, key: str) -> None:
        """Claim ``key`` or raise the 409 if it was claimed within the TTL."""
        now = self._clock()
        expiries = self._expiry
        expiry = expiries.pop((env, key), None)
        if expiry is not None and now < expiry:
            expiries[(env, key)] = expiry
            raise duplicate_key(key)
        # Re-inserted at the end: with one TTL and a clock that only moves forward, the
        # dict stays ordered by expiry, so pruning pops from the front, O(1) amortised.
        expiries[(env, key)] = now + self.ttl_ms
        oldest = next(iter(expiries))
        if expiries[oldest] <= now:
            del expiries[oldest]  # one per claim: O(1), and the store cannot outgrow its TTL

    def release(self, env: str, key: str) -> None:
        """Forget ``key`` so a retry of a failed request can go through."""
        self._expiry.pop((env, key), None)

    def clear(self) -> None:
        """Forget every key."""
        self._expiry.clear()
