"""The one retry policy's decisions (``autumn_async._retry``), without a loop or a clock.

The rules follow Autumn's idempotency handling, which releases a key when a request ends
in an error >= 400 other than 409 and answers the same 409 to a duplicate whether the
first request finished or still runs: ``server/src/internal/misc/idempotency/
withIdempotencyKey.ts`` and ``redisIdempotencyStore.ts`` (useautumn/autumn).
"""

from __future__ import annotations

import pytest

from autumn_async import (
    APIConnectionError,
    BackoffStrategy,
    BadRequestError,
    ConflictError,
    InternalServerError,
    RateLimitError,
    RetryConfig,
    UsageError,
)
from autumn_async._retry import Action, CallState, Failure, backoff_cap, classify, decide

CONFIG = RetryConfig("backoff", BackoffStrategy(100, 1000, 2.0, 10_000), True, max_attempts=10)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(
    config: RetryConfig = CONFIG,
    *,
    changing: bool = True,
    timeout: float = 5.0,
    clock: FakeClock | None = None,
    jitter: object = None,
) -> CallState:
    s = CallState(
        config,
        state_changing=changing,
        attempt_timeout=timeout,
        clock=clock or FakeClock(),
        jitter=jitter or (lambda cap: cap),  # type: ignore[arg-type]
    )
    s.begin_attempt()
    return s


def never_sent() -> APIConnectionError:
    return APIConnectionError("refused", maybe_applied=False)


def maybe_sent() -> APIConnectionError:
    return APIConnectionError("reset", maybe_applied=True)


def server(status: int, code: str | None = None, **kw: object) -> InternalServerError:
    return InternalServerError("x", status_code=status, code=code, **kw)  # type: ignore[arg-type]


def duplicate() -> ConflictError:
    return ConflictError("dup", status_code=409, code="duplicate_idempotency_key")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (never_sent(), Failure.NEVER_SENT),
        (maybe_sent(), Failure.NO_ANSWER),
        (RateLimitError("x", status_code=429), Failure.RATE_LIMITED),
        (server(500), Failure.APPLICATION),
        (server(500, "internal_error"), Failure.APPLICATION),
        (server(503, "queue_unavailable"), Failure.APPLICATION),
        (server(502), Failure.GATEWAY),
        (server(503), Failure.GATEWAY),
        (server(504), Failure.GATEWAY),
        (server(500, "invalid_inputs"), Failure.FINAL),
        (server(501), Failure.FINAL),
        (duplicate(), Failure.DUPLICATE),
        (ConflictError("x", status_code=409, code="balance_id_taken"), Failure.FINAL),
        (BadRequestError("x", status_code=400), Failure.FINAL),
        (UsageError("x"), Failure.FINAL),
    ],
)
def test_classify(error: Exception, kind: Failure) -> None:
    """Each failure falls into the kind the policy acts on; Autumn's JSON marks a 5xx as its own."""
    assert classify(error) is kind


@pytest.mark.parametrize("changing", [True, False])
def test_never_sent_and_429_retry_whatever_the_call(changing: bool) -> None:
    """Rule 1: a failure before sending and a 429 are retried, the call not maybe applied."""
    for error in (never_sent(), RateLimitError("x", status_code=429)):
        decision = decide(error, state(changing=changing))
        assert decision.action is Action.RETRY
        assert decision.maybe_applied is False


@pytest.mark.parametrize("error", [maybe_sent(), server(502), server(503), server(504)])
def test_no_answer_and_gateway_errors_retry_and_mark_maybe_applied(error: Exception) -> None:
    """Rule 2: sent without Autumn's answer: retried under the same key, maybe applied."""
    s = state()
    decision = decide(error, s)
    assert decision.action is Action.RETRY
    assert decision.maybe_applied is True
    assert s.maybe_applied_since == 0.0


@pytest.mark.parametrize("error", [server(500), server(500, "x"), server(503, "x")])
def test_application_5xx_is_never_resent_for_a_state_changing_call(error: Exception) -> None:
    """Rule 3: Autumn released the key and may have applied the call: give up, maybe applied."""
    decision = decide(error, state(changing=True))
    assert decision.action is Action.GIVE_UP
    assert decision.maybe_applied is True


@pytest.mark.parametrize("error", [server(500), server(500, "x"), server(503, "x"), server(502)])
def test_read_only_calls_retry_every_retryable_5xx(error: Exception) -> None:
    """A read-only check cannot apply anything twice: every retryable 5xx is retried."""
    decision = decide(error, state(changing=False))
    assert decision.action is Action.RETRY
    assert decision.maybe_applied is False


def test_409_before_one_attempt_timeout_waits_until_it_can_be_confirmed() -> None:
    """Rule 4: a 409 while the maybe-applied attempt may still run is asked again later."""
    clock = FakeClock()
    s = state(clock=clock, timeout=5.0)
    decide(maybe_sent(), s)  # the first attempt, started at 0, may have been applied
    clock.now = 0.5
    s.begin_attempt()
    decision = decide(duplicate(), s)
    assert decision.action is Action.RETRY
    assert decision.wait == pytest.approx(4.5)  # until 0 + 5 s, longer than the backoff
    clock.now = 5.0
    s.begin_attempt()
    assert decide(duplicate(), s).action is Action.REPLAYED


def test_409_after_one_attempt_timeout_is_confirmed() -> None:
    """Rule 4: once a per-attempt timeout has passed, the earlier attempt has finished."""
    clock = FakeClock()
    s = state(clock=clock, timeout=1.0)
    decide(server(504), s)
    clock.now = 1.0
    s.begin_attempt()
    decision = decide(duplicate(), s)
    assert decision.action is Action.REPLAYED
    assert decision.maybe_applied is True


def test_unconfirmed_409_with_no_budget_left_is_outcome_unknown() -> None:
    """Rule 4: if the budget runs out before the 409 can be confirmed, the outcome is unknown."""
    clock = FakeClock()
    config = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 2_000), max_attempts=0)
    s = state(config, clock=clock, timeout=10.0)
    decide(maybe_sent(), s)
    clock.now = 0.1
    s.begin_attempt()
    assert decide(duplicate(), s).action is Action.OUTCOME_UNKNOWN
    s2 = state(RetryConfig(max_attempts=2), clock=FakeClock(), timeout=1.0)
    decide(maybe_sent(), s2)
    s2.begin_attempt()
    assert decide(duplicate(), s2).action is Action.OUTCOME_UNKNOWN


def test_409_without_an_earlier_maybe_applied_attempt_is_a_real_conflict() -> None:
    """A duplicate when nothing of ours can have been applied is the caller's own conflict."""
    s = state()
    decide(never_sent(), s)
    s.begin_attempt()
    decision = decide(duplicate(), s)
    assert decision.action is Action.GIVE_UP
    assert decision.maybe_applied is False
    assert decide(duplicate(), state(changing=False)).action is Action.GIVE_UP


@pytest.mark.parametrize(
    "error",
    [
        server(500, "invalid_inputs"),
        server(501),
        BadRequestError("x", status_code=400),
        ConflictError("x", status_code=409, code="other"),
        UsageError("x"),
    ],
)
def test_final_errors_never_retry(error: Exception) -> None:
    """Validation failures and other 4xx are final."""
    assert decide(error, state()).action is Action.GIVE_UP
    assert decide(error, state(changing=False)).action is Action.GIVE_UP


def test_connection_errors_can_be_switched_off() -> None:
    """retry_connection_errors=False gives up on failures without an answer."""
    config = RetryConfig("backoff", BackoffStrategy(), False)
    assert decide(never_sent(), state(config)).action is Action.GIVE_UP
    decision = decide(maybe_sent(), state(config))
    assert decision.action is Action.GIVE_UP
    assert decision.maybe_applied is True
    assert decide(RateLimitError("x", status_code=429), state(config)).action is Action.RETRY


def test_backoff_cap_grows_exponentially_up_to_max_interval() -> None:
    """The n-th retry's cap is min(initial * exponent**(n-1), max_interval)."""
    caps = [backoff_cap(CONFIG.backoff, n) for n in range(1, 7)]
    assert caps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_waits_use_full_jitter_below_the_cap() -> None:
    """With the real jitter every wait lies in [0, cap]."""
    s = CallState(CONFIG, state_changing=True, attempt_timeout=5.0, clock=FakeClock())
    for attempt, bound in enumerate([0.1, 0.2, 0.4, 0.8, 1.0, 1.0], start=1):
        s.begin_attempt()
        assert s.attempts == attempt
        decision = decide(never_sent(), s)
        assert decision.action is Action.RETRY
        assert 0 <= decision.wait <= bound


@pytest.mark.parametrize("retry_after", [0.0, 0.05])
def test_retry_after_never_shortens_the_backoff(retry_after: float) -> None:
    """Rule 5: Retry-After: 0 (or less than the backoff) still waits the backoff delay."""
    s = state()
    err = RateLimitError("x", status_code=429, retry_after=retry_after)
    assert decide(err, s).wait == pytest.approx(0.1)
    s.begin_attempt()
    assert decide(err, s).wait == pytest.approx(0.2)  # and it grows per attempt


def test_retry_after_lengthens_the_wait() -> None:
    """A Retry-After longer than the backoff (here 3 s) is the wait."""
    assert decide(RateLimitError("x", status_code=429, retry_after=3.0), state()).wait == 3.0


def test_retry_after_on_a_gateway_503_is_honoured() -> None:
    """Autumn's gateway 503s carry Retry-After: 1, which sets the wait."""
    err = server(503, headers={"Retry-After": "1"})
    assert decide(err, state()).wait == 1.0


def test_attempts_are_bounded() -> None:
    """No retry after max_attempts attempts."""
    s = state(RetryConfig(max_attempts=3))
    s.begin_attempt()
    assert decide(never_sent(), s).action is Action.RETRY
    s.begin_attempt()
    assert decide(never_sent(), s).action is Action.GIVE_UP


def test_zero_attempts_means_bounded_by_time_only() -> None:
    """max_attempts=0 keeps retrying until the deadline."""
    clock = FakeClock()
    s = state(
        RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 1_000), max_attempts=0), clock=clock
    )
    s.attempts = 10_000
    assert decide(never_sent(), s).action is Action.RETRY
    clock.now = 1.0
    assert decide(never_sent(), s).action is Action.GIVE_UP


def test_deadline_bounds_the_call() -> None:
    """No retry starts once max_elapsed_time has passed."""
    clock = FakeClock()
    s = state(clock=clock)
    clock.now = 10.0
    assert decide(never_sent(), s).action is Action.GIVE_UP


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    """A Retry-After longer than the time left ends the call rather than oversleeping."""
    clock = FakeClock()
    s = state(clock=clock)
    clock.now = 8.0
    err = RateLimitError("x", status_code=429, retry_after=3.0)
    assert decide(err, s).action is Action.GIVE_UP


def test_strategy_none_never_retries() -> None:
    """RetryConfig('none') makes one attempt."""
    assert decide(never_sent(), state(RetryConfig("none"))).action is Action.GIVE_UP


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
