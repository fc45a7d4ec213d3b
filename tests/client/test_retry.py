"""The retry policy's decisions, without a loop or a clock."""

from __future__ import annotations

import pytest

from autumn_async._errors import (
    APIConnectionError,
    AutumnError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    RateLimitError,
    UsageError,
)
from autumn_async._retry import BackoffStrategy, RetryConfig, RetryState, is_retryable

CONFIG = RetryConfig("backoff", BackoffStrategy(100, 1000, 2.0, 10_000), True, max_attempts=10)


def never_sent() -> APIConnectionError:
    return APIConnectionError("refused", maybe_applied=False)


def maybe_sent() -> APIConnectionError:
    return APIConnectionError("reset", maybe_applied=True)


def server(status: int, code: str | None = None) -> InternalServerError:
    return InternalServerError("x", status_code=status, code=code)


@pytest.mark.parametrize("replay_safe", [True, False])
def test_never_sent_and_429_always_retry(replay_safe: bool) -> None:
    """A failure before sending and a 429 are retried whatever the call."""
    assert is_retryable(never_sent(), replay_safe=replay_safe, config=CONFIG)
    assert is_retryable(
        RateLimitError("x", status_code=429), replay_safe=replay_safe, config=CONFIG
    )


@pytest.mark.parametrize(
    "error", [maybe_sent(), server(500), server(502), server(503), server(504)]
)
def test_ambiguous_failures_retry_only_when_replay_safe(error: AutumnError) -> None:
    """A failure that may have been applied is retried only when a repeat cannot double-apply."""
    assert is_retryable(error, replay_safe=True, config=CONFIG)
    assert not is_retryable(error, replay_safe=False, config=CONFIG)


@pytest.mark.parametrize(
    "error",
    [
        server(500, "invalid_inputs"),
        server(501),
        BadRequestError("x", status_code=400),
        ConflictError("x", status_code=409, code="duplicate_idempotency_key"),
        UsageError("x"),
    ],
)
def test_other_errors_never_retry(error: AutumnError) -> None:
    """Validation failures, other 4xx and 409 are final."""
    assert not is_retryable(error, replay_safe=True, config=CONFIG)


def test_connection_errors_can_be_switched_off() -> None:
    """retry_connection_errors=False gives up on failures without an answer."""
    config = RetryConfig("backoff", BackoffStrategy(), False)
    assert not is_retryable(never_sent(), replay_safe=True, config=config)
    assert is_retryable(RateLimitError("x", status_code=429), replay_safe=True, config=config)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_waits_grow_exponentially_with_full_jitter_and_cap() -> None:
    """The n-th wait lies in [0, min(initial * exponent**n, max_interval)]."""
    state = RetryState(CONFIG, clock=FakeClock())
    bounds = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    for attempt, bound in enumerate(bounds, start=1):
        state.attempts = attempt
        wait = state.next_wait(never_sent(), replay_safe=True)
        assert wait is not None
        assert 0 <= wait <= bound


def test_attempts_are_bounded() -> None:
    """No retry after max_attempts attempts."""
    state = RetryState(RetryConfig(max_attempts=3), clock=FakeClock())
    state.attempts = 2
    assert state.next_wait(never_sent(), replay_safe=True) is not None
    state.attempts = 3
    assert state.next_wait(never_sent(), replay_safe=True) is None


def test_zero_attempts_means_bounded_by_time_only() -> None:
    """max_attempts=0 keeps retrying until the deadline."""
    clock = FakeClock()
    state = RetryState(
        RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 1_000), max_attempts=0), clock=clock
    )
    state.attempts = 10_000
    assert state.next_wait(never_sent(), replay_safe=True) == 0
    clock.now = 1.0
    assert state.next_wait(never_sent(), replay_safe=True) is None


def test_deadline_bounds_the_call() -> None:
    """No retry starts once max_elapsed_time has passed."""
    clock = FakeClock()
    state = RetryState(CONFIG, clock=clock)
    state.attempts = 1
    clock.now = 10.0
    assert state.next_wait(never_sent(), replay_safe=True) is None


def test_retry_after_is_honoured() -> None:
    """A Retry-After within the time left is the wait, instead of the backoff."""
    state = RetryState(CONFIG, clock=FakeClock())
    state.attempts = 1
    err = RateLimitError("x", status_code=429, retry_after=3.0)
    assert state.next_wait(err, replay_safe=True) == 3.0


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    """A Retry-After longer than the time left ends the call rather than oversleeping."""
    clock = FakeClock()
    state = RetryState(CONFIG, clock=clock)
    state.attempts = 1
    clock.now = 8.0
    assert (
        state.next_wait(RateLimitError("x", status_code=429, retry_after=3.0), replay_safe=True)
        is None
    )


def test_retry_after_on_503_is_honoured() -> None:
    """Autumn's 503s carry Retry-After: 1, which sets the wait."""
    state = RetryState(CONFIG, clock=FakeClock())
    state.attempts = 1
    err = InternalServerError("x", status_code=503, headers={"Retry-After": "1"})
    assert state.next_wait(err, replay_safe=True) == 1.0


def test_strategy_none_never_retries() -> None:
    """RetryConfig('none') makes one attempt."""
    state = RetryState(RetryConfig("none"), clock=FakeClock())
    state.attempts = 1
    assert state.next_wait(never_sent(), replay_safe=True) is None


def test_generated_sdk_constructor_order() -> None:
    """RetryConfig and BackoffStrategy take the generated SDK's positional arguments."""
    config = RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 100), False)
    assert config.backoff.initial_interval == 1
    assert config.backoff.max_interval == 50
    assert config.backoff.exponent == 1.1
    assert config.backoff.max_elapsed_time == 100
    assert config.retry_connection_errors is False


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"strategy": "sometimes"}, "retry_config.strategy"),
        ({"max_attempts": -1}, "retry_config.max_attempts"),
        ({"max_attempts": 1.5}, "retry_config.max_attempts"),
    ],
)
def test_bad_retry_config_is_a_usage_error(kwargs: dict[str, object], field: str) -> None:
    """A bad RetryConfig is refused with the field named."""
    with pytest.raises(UsageError) as info:
        RetryConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "1", True])
def test_bad_backoff_values_are_usage_errors(value: object) -> None:
    """BackoffStrategy numbers must be finite and non-negative."""
    with pytest.raises(UsageError, match="backoff.initial_interval"):
        BackoffStrategy(initial_interval=value)  # type: ignore[arg-type]
