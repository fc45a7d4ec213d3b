"""The one retry policy: what to do after a failed attempt, for the client and the batcher.

Pure decisions over an explicit per-call state, so they are unit-tested without a loop,
a clock or a network. The rules, for a call that changes state (``track``,
``batch_track``, ``create``, ``update``, ``check(send_event=True)``), follow Autumn's
idempotency (the key is claimed when a request starts, a duplicate gets 409
``duplicate_idempotency_key`` even while the first still runs, and the key is released
when the request ends in an error >= 400 other than 409; spec §17.2,
``server/src/internal/misc/idempotency/withIdempotencyKey.ts``):

1. Never sent (refused, DNS, connect or pool-wait timeout) and 429: retry, same key.
2. Sent without an answer (read timeout, reset) and a gateway's 502/503/504 (a body that
   is not Autumn's JSON error): retry under the same key; the call *may have been
   applied*.
3. 500, or any 5xx with Autumn's JSON error body: Autumn released the key and may have
   applied the change, so a resend could apply it twice: give up, outcome unknown.
4. 409 duplicate after an attempt that may have been applied: Autumn answers the same
   409 whether that attempt finished or still runs (the stores keep one value per key,
   ``redisIdempotencyStore.ts``), and a running one may yet fail and release its key. So
   the 409 is *confirmed* (replayed) only once one per-attempt timeout has passed since
   the earliest maybe-applied attempt started; before that, wait and ask again, and if
   the budget runs out first the outcome is unknown.
5. Every wait is at least the backoff delay (exponential, full jitter, growing per
   retry); ``Retry-After`` can lengthen a wait, never shorten it.

A read-only call (a plain ``check``) retries every retryable failure, 500 included.

This is the only module that imports ``backoff`` (unmaintained): it supplies the
exponential sequence and the full jitter.
"""

from __future__ import annotations

import enum
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
    ConflictError,
    InternalServerError,
    RateLimitError,
    UsageError,
)
from ._public import publish

__all__ = [
    "NO_RETRIES",
    "Action",
    "BackoffStrategy",
    "CallState",
    "Decision",
    "Failure",
    "RetryConfig",
    "backoff_cap",
    "backoff_wait",
    "classify",
    "decide",
]

#: 5xx statuses worth another attempt (a gateway's, or any for a read-only call).
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
    ``min(initial_interval * exponent**(n-1), max_interval)`` (full jitter), longer if the
    server's ``Retry-After`` asks for more, and no retry starts after ``max_elapsed_time``
    from the first attempt.
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
    bounds the attempts (first try included; ``0`` leaves only the time bound, and the
    growing backoff still spaces them). ``retry_connection_errors=False`` gives up on the
    first failure without an answer. Which failures are retried at all is decided by
    safety, not by this object: a call that could be applied twice is never resent.
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


class Failure(enum.Enum):
    """What a failed attempt tells the policy."""

    NEVER_SENT = "never_sent"  #: no byte reached Autumn
    RATE_LIMITED = "rate_limited"  #: 429: Autumn did not act
    NO_ANSWER = "no_answer"  #: sent, no answer: may have been applied
    GATEWAY = "gateway"  #: 502/503/504 without Autumn's JSON error: may have been applied
    APPLICATION = "application"  #: 500 or a 5xx with Autumn's JSON error: key released
    DUPLICATE = "duplicate"  #: 409 duplicate_idempotency_key
    FINAL = "final"  #: anything else: retrying cannot help


class Action(enum.Enum):
    """What the caller of :func:`decide` does next."""

    RETRY = "retry"  #: wait ``Decision.wait`` seconds, then send again under the same key
    GIVE_UP = "give_up"  #: raise the error (``Decision.maybe_applied`` says if it is ambiguous)
    REPLAYED = "replayed"  #: a confirmed duplicate: an earlier attempt was applied
    OUTCOME_UNKNOWN = "outcome_unknown"  #: unconfirmed duplicate and no budget left


@attrs.frozen
class Decision:
    """The policy's answer after one failed attempt."""

    action: Action
    wait: float = 0.0
    #: Whether the call as a whole may have been applied (some attempt may have been).
    maybe_applied: bool = False


def classify(error: BaseException) -> Failure:
    """Which kind of failure ``error`` is, whatever the call."""
    if isinstance(error, APIConnectionError):
        return Failure.NO_ANSWER if error.maybe_applied else Failure.NEVER_SENT
    if isinstance(error, RateLimitError):
        return Failure.RATE_LIMITED
    if isinstance(error, ConflictError):
        return Failure.DUPLICATE if error.code == "duplicate_idempotency_key" else Failure.FINAL
    if isinstance(error, InternalServerError):
        if error.code == "invalid_inputs":
            return Failure.FINAL  # validation refused it before anything was applied
        if error.status_code == 500 or error.code is not None:
            return Failure.APPLICATION
        if error.status_code in _RETRYABLE_5XX:
            return Failure.GATEWAY
    return Failure.FINAL


def backoff_cap(backoff: BackoffStrategy, retry: int) -> float:
    """Upper bound, in seconds, of the wait before retry number ``retry`` (1-based)."""
    import backoff as _backoff  # noqa: PLC0415 (needed only once a call is retried)

    gen = _backoff.expo(
        base=backoff.exponent,
        factor=backoff.initial_interval / 1000.0,
        max_value=backoff.max_interval / 1000.0,
    )
    next(gen)  # backoff's generators yield None once before the first value
    value: float = next(gen)
    for _ in range(retry - 1):
        value = next(gen)
    return float(value)


def _full_jitter(value: float) -> float:
    import backoff as _backoff  # noqa: PLC0415

    return float(_backoff.full_jitter(value))


def backoff_wait(
    backoff: BackoffStrategy,
    retry: int,
    retry_after: float | None = None,
    *,
    jitter: Callable[[float], float] = _full_jitter,
) -> float:
    """Seconds to wait before retry number ``retry`` (1-based): rule 5 of the policy.

    The jittered exponential delay, lengthened (never shortened) by ``retry_after``.
    """
    wait = jitter(backoff_cap(backoff, retry))
    if retry_after is not None and retry_after > wait:
        wait = float(retry_after)
    return wait


@attrs.define
class CallState:
    """The retry bookkeeping of one call (or one batcher delivery): attempts and times.

    Times come from ``clock`` (monotonic seconds). Call :meth:`begin_attempt` before each
    attempt and :func:`decide` after each failure; ``attempt_timeout`` is the per-attempt
    time limit (``Timeout.total``), which rule 4 waits out before trusting a 409.
    """

    config: RetryConfig
    state_changing: bool
    attempt_timeout: float
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[float], float] = _full_jitter
    attempts: int = 0
    first_started_at: float | None = None
    attempt_started_at: float = 0.0
    #: Start of the earliest attempt that may have been applied, if any.
    maybe_applied_since: float | None = None
    _caps: Iterator[float] | None = attrs.field(default=None, init=False, repr=False)

    def begin_attempt(self, started_at: float | None = None) -> None:
        """Count an attempt starting now (or at ``started_at``, a ``clock`` reading)."""
        now = self.clock() if started_at is None else started_at
        self.attempts += 1
        self.attempt_started_at = now
        if self.first_started_at is None:
            self.first_started_at = now

    @property
    def maybe_applied(self) -> bool:
        """Whether some attempt so far may have been applied."""
        return self.maybe_applied_since is not None

    def backoff_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next retry: grows with each retry, never below the backoff."""
        retry = max(self.attempts, 1)
        return backoff_wait(self.config.backoff, retry, retry_after, jitter=self.jitter)

    def deadline(self) -> float:
        """Clock reading after which no retry starts."""
        first = self.first_started_at if self.first_started_at is not None else self.clock()
        return first + self.config.backoff.max_elapsed_time / 1000.0

    def budget_allows(self, wait: float, now: float) -> bool:
        """Whether another attempt after ``wait`` seconds fits the attempts and time bounds."""
        config = self.config
        if config.strategy != "backoff":
            return False
        if config.max_attempts and self.attempts >= config.max_attempts:
            return False
        deadline = self.deadline()
        return now < deadline and now + wait <= deadline


def decide(error: BaseException, state: CallState, *, now: float | None = None) -> Decision:
    """What to do after ``error`` ended the current attempt of the call ``state`` tracks.

    Records in ``state`` whether this attempt may have been applied. ``now`` defaults to
    ``state.clock()``.
    """
    if now is None:
        now = state.clock()
    kind = classify(error)
    config = state.config
    changing = state.state_changing
    if kind in (Failure.NO_ANSWER, Failure.GATEWAY) and state.maybe_applied_since is None:
        state.maybe_applied_since = state.attempt_started_at
    if kind is Failure.APPLICATION and changing:
        return Decision(Action.GIVE_UP, maybe_applied=True)
    maybe_applied = changing and state.maybe_applied
    if kind is Failure.DUPLICATE:
        since = state.maybe_applied_since
        if not changing or since is None:
            return Decision(Action.GIVE_UP, maybe_applied=maybe_applied)  # a real conflict
        confirm_at = since + state.attempt_timeout
        if now >= confirm_at:
            return Decision(Action.REPLAYED, maybe_applied=True)
        wait = max(state.backoff_delay(), confirm_at - now)
        if state.budget_allows(wait, now):
            return Decision(Action.RETRY, wait, maybe_applied=True)
        return Decision(Action.OUTCOME_UNKNOWN, maybe_applied=True)
    if kind is Failure.FINAL:
        return Decision(Action.GIVE_UP, maybe_applied=maybe_applied)
    if kind in (Failure.NEVER_SENT, Failure.NO_ANSWER) and not config.retry_connection_errors:
        return Decision(Action.GIVE_UP, maybe_applied=maybe_applied)
    if kind is Failure.APPLICATION and getattr(error, "status_code", 0) not in _RETRYABLE_5XX:
        return Decision(Action.GIVE_UP)  # read-only: a 501, 505 ... will not heal
    wait = state.backoff_delay(getattr(error, "retry_after", None))
    if state.budget_allows(wait, now):
        return Decision(Action.RETRY, wait, maybe_applied=maybe_applied)
    return Decision(Action.GIVE_UP, maybe_applied=maybe_applied)


publish(globals(), ("BackoffStrategy", "RetryConfig"))
