"""Retry policy: which failures are retried, and how long to wait before the next attempt.

This is the only module that imports ``backoff`` (unmaintained): it supplies the
exponential wait sequence and the full jitter; the decisions are ours and pure, so they
are unit-tested without a loop or a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import attrs

from ._checks import finite_number
from ._config import (
    DEFAULT_EXPONENT,
    DEFAULT_INITIAL_INTERVAL_MS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_ELAPSED_TIME_MS,
    DEFAULT_MAX_INTERVAL_MS,
)
from ._errors import (
    APIConnectionError,
    AutumnError,
    InternalServerError,
    RateLimitError,
    UsageError,
)

__all__ = ["BackoffStrategy", "RetryConfig"]

#: 5xx statuses that mean "try again"; a 500 ``invalid_inputs`` is a validation bug, not one.
_RETRYABLE_5XX = frozenset({500, 502, 503, 504})


def _non_negative(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if finite_number(value, name) < 0:
            raise UsageError(f"{name} must be a finite number >= 0, got {value!r}", field=name)

    return check


@attrs.frozen
class BackoffStrategy:
    """Exponential backoff, with the field names of the API reference's generated SDK.

    All times are in milliseconds. The n-th retry waits a random time between 0 and
    ``min(initial_interval * exponent**n, max_interval)`` (full jitter), and no retry
    starts after ``max_elapsed_time`` from the first attempt.
    """

    initial_interval: int = attrs.field(
        default=DEFAULT_INITIAL_INTERVAL_MS, validator=_non_negative("backoff.initial_interval")
    )
    max_interval: int = attrs.field(
        default=DEFAULT_MAX_INTERVAL_MS, validator=_non_negative("backoff.max_interval")
    )
    exponent: float = attrs.field(
        default=DEFAULT_EXPONENT, validator=_non_negative("backoff.exponent")
    )
    max_elapsed_time: int = attrs.field(
        default=DEFAULT_MAX_ELAPSED_TIME_MS, validator=_non_negative("backoff.max_elapsed_time")
    )


@attrs.frozen
class RetryConfig:
    """How a call is retried: ``RetryConfig(strategy, backoff, retry_connection_errors)``.

    ``strategy`` is ``"backoff"`` (retry) or ``"none"`` (one attempt). ``max_attempts``
    bounds the attempts (first try included; ``0`` leaves only the time bound).
    ``retry_connection_errors=False`` gives up on the first failure without an answer.
    Which failures are retried at all is decided by safety, not by this object:
    a call that could be applied twice is never resent.
    """

    strategy: Literal["backoff", "none"] = "backoff"
    backoff: BackoffStrategy = attrs.field(factory=BackoffStrategy)
    retry_connection_errors: bool = True
    max_attempts: int = attrs.field(default=DEFAULT_MAX_ATTEMPTS, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.strategy not in ("backoff", "none"):
            raise UsageError(
                f"retry_config.strategy must be 'backoff' or 'none', got {self.strategy!r}",
                field="retry_config.strategy",
            )
        if not isinstance(self.backoff, BackoffStrategy):
            raise UsageError(
                "retry_config.backoff must be a BackoffStrategy", field="retry_config.backoff"
            )
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise UsageError(
                "retry_config.max_attempts must be an int", field="retry_config.max_attempts"
            )
        if self.max_attempts < 0:
            raise UsageError(
                "retry_config.max_attempts must be >= 0 (0 = bounded by time only)",
                field="retry_config.max_attempts",
            )


#: One attempt, no retries (what ``retries=None`` means).
NO_RETRIES = RetryConfig("none")


def is_retryable(error: AutumnError, *, replay_safe: bool, config: RetryConfig) -> bool:
    """Whether ``error`` may be retried.

    Never-sent failures and 429 are always retryable: Autumn did not act. Ambiguous
    failures (maybe applied: a read timeout, a reset after sending, a 5xx) only when the
    call is ``replay_safe``: a repeat cannot apply it twice (read-only, or carrying an
    idempotency key reused on every attempt).
    """
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, APIConnectionError):
        if not config.retry_connection_errors:
            return False
        return replay_safe or not error.maybe_applied
    if isinstance(error, InternalServerError):
        if error.status_code not in _RETRYABLE_5XX or error.code == "invalid_inputs":
            return False
        return replay_safe
    return False


class RetryState:
    """The retry bookkeeping of one call: attempts made, deadline, next wait."""

    __slots__ = ("_config", "_deadline", "_waits", "attempts", "clock")

    def __init__(self, config: RetryConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self.clock = clock
        self.attempts = 0
        self._deadline = clock() + config.backoff.max_elapsed_time / 1000.0
        self._waits: Iterator[float] | None = None

    def _next_backoff(self) -> float:
        import backoff  # noqa: PLC0415 (needed only once a call is retried)

        if self._waits is None:
            b = self._config.backoff
            gen = backoff.expo(
                base=b.exponent,
                factor=b.initial_interval / 1000.0,
                max_value=b.max_interval / 1000.0,
            )
            next(gen)  # backoff's generators yield None once before the first value
            self._waits = gen
        return float(backoff.full_jitter(next(self._waits)))

    def next_wait(self, error: AutumnError, *, replay_safe: bool) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up with ``error``.

        Call once after each failed attempt. A ``Retry-After`` longer than the time left
        gives up at once rather than sleeping past the deadline.
        """
        config = self._config
        if config.strategy != "backoff":
            return None
        if config.max_attempts and self.attempts >= config.max_attempts:
            return None
        if not is_retryable(error, replay_safe=replay_safe, config=config):
            return None
        left = self._deadline - self.clock()
        retry_after = getattr(error, "retry_after", None)
        wait = retry_after if retry_after is not None else self._next_backoff()
        if wait > left or left <= 0:
            return None
        return wait
