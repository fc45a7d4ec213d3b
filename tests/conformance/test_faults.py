"""Every emulator fault through the SDK: retried to success, or the documented typed error.

Runs on the public ``autumn_emulator`` fixture. The headline: with 30 % of track answers
lost after the change was applied, 1,000 SDK tracks leave exactly 1,000 events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from autumn_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncAutumn,
    BackoffStrategy,
    InternalServerError,
    OutcomeUnknownError,
    RateLimitError,
    RetryConfig,
)
from autumn_emulator import Emulator

from ..conftest import INSTANT_RETRIES

TRACK = "/v1/balances.track"
CHECK = "/v1/balances.check"
CREATE = "/v1/balances.create"
UPDATE = "/v1/balances.update"

#: Instant retries with room for long runs of bad luck (30 % faults, 20 attempts).
PATIENT_RETRIES = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 60_000), True, max_attempts=20)


@pytest.fixture
async def emu(autumn_emulator: Emulator) -> Emulator:
    """The public fixture's emulator with feature messages and customer c1 holding 1,000,000."""
    await autumn_emulator.add_feature("messages", name="Messages")
    await autumn_emulator.add_customer("c1")
    await autumn_emulator.add_balance(
        customer_id="c1", feature_id="messages", included_grant=1_000_000
    )
    return autumn_emulator


#: Per-attempt timeout where an answer is lost: a retry's 409 is trusted only this long
#: after the lost attempt started (the one retry policy, rule 4), so keep it short.
LOST_ANSWER_TIMEOUT = 0.5


def client(
    emu: Emulator, retries: RetryConfig | None = INSTANT_RETRIES, **options: Any
) -> AsyncAutumn:
    """An SDK client for ``emu`` (retries off with ``retries=None``)."""
    return AsyncAutumn(
        secret_key=emu.secret_key, server_url=emu.url, retry_config=retries, **options
    )


@pytest.fixture
async def autumn(emu: Emulator) -> AsyncIterator[AsyncAutumn]:
    """A client with instant retries."""
    async with client(emu) as c:
        yield c


@pytest.fixture
async def no_retries(emu: Emulator) -> AsyncIterator[AsyncAutumn]:
    """A client with retries switched off."""
    async with client(emu, None) as c:
        yield c


def usage(emu: Emulator) -> int | float:
    """Units of messages used by c1."""
    return emu.balances("c1")["messages"]["usage"]  # type: ignore[no-any-return]


# -- status faults ----------------------------------------------------------------------

STATUS_FAULTS = [
    pytest.param({"status": 429, "retry_after": 0}, id="429"),
    pytest.param({"status": 500}, id="500"),
    pytest.param({"status": 502}, id="502"),
    pytest.param({"status": 503, "retry_after": 0}, id="503"),
]


async def test_rate_limit_is_retried_to_success(autumn: AsyncAutumn, emu: Emulator) -> None:
    """Two 429s in a row are retried under the same key and the third attempt succeeds once."""
    emu.set_fault(TRACK, "status", count=2, status=429, retry_after=0)
    result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=2)
    assert result.balance is not None
    assert (result.replayed, result.balance.usage) == (False, 2)
    assert emu.stats()[TRACK] == 3
    assert len(emu.ledger()) == 1


@pytest.mark.parametrize("fault", STATUS_FAULTS[1:])
async def test_application_5xx_on_track_is_never_resent(
    autumn: AsyncAutumn, emu: Emulator, fault: dict[str, Any]
) -> None:
    """A 5xx with Autumn's JSON error released the key: no resend, outcome unknown, key given.

    Autumn releases the key on any error >= 400 but 409 and may have applied the change
    first (server/src/internal/misc/idempotency/withIdempotencyKey.ts), so a resend under
    the same key could count the usage twice.
    """
    emu.set_fault(TRACK, "status", count=2, **fault)
    with pytest.raises(InternalServerError) as info:
        await autumn.balances.track(
            customer_id="c1", feature_id="messages", value=2, idempotency_key="evt-5xx"
        )
    assert info.value.maybe_applied is True
    assert info.value.idempotency_key == "evt-5xx"
    assert emu.stats()[TRACK] == 1


@pytest.mark.parametrize("fault", STATUS_FAULTS)
async def test_status_fault_on_a_read_only_check_is_retried_to_success(
    autumn: AsyncAutumn, emu: Emulator, fault: dict[str, Any]
) -> None:
    """A plain check changes nothing, so every retryable status is asked again."""
    emu.set_fault(CHECK, "status", count=2, **fault)
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert result.fallback is False  # Autumn's own answer, from the third attempt
    assert emu.stats()[CHECK] == 3


async def test_rate_limit_without_retries_is_a_rate_limit_error(
    no_retries: AsyncAutumn, emu: Emulator
) -> None:
    """A 429 with its plain-text body raises RateLimitError with retry_after and no code."""
    emu.set_fault(TRACK, "status", status=429, retry_after=0)
    with pytest.raises(RateLimitError) as info:
        await no_retries.balances.track(customer_id="c1", feature_id="messages")
    error = info.value
    assert (error.status_code, error.code, error.retry_after) == (429, None, 0.0)
    assert error.message == "Too many requests, please try again later."
    assert emu.ledger() == []


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_without_retries_is_an_internal_server_error(
    no_retries: AsyncAutumn, emu: Emulator, status: int
) -> None:
    """A 5xx raises InternalServerError with the status and code internal_error."""
    emu.set_fault(CHECK, "status", status=status, retry_after=0)
    with pytest.raises(InternalServerError) as info:
        await no_retries.balances.check(customer_id="c1", feature_id="messages")
    assert (info.value.status_code, info.value.code) == (status, "internal_error")
    assert emu.stats()[CHECK] == 1


async def test_retry_after_beyond_the_deadline_gives_up_at_once(emu: Emulator) -> None:
    """A 503 asking to wait 1 s is not waited for when less than 1 s of retry time is left."""
    short = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 200), True, max_attempts=5)
    emu.set_fault(CHECK, "status", status=503)  # Retry-After: 1, as today's server sends
    async with client(emu, short) as autumn:
        with pytest.raises(InternalServerError) as info:
            await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert info.value.headers.get("Retry-After") == "1"
    assert emu.stats()[CHECK] == 1


async def test_fail_open_check_answers_allowed_on_server_errors(emu: Emulator) -> None:
    """With fail_open=True a check that only gets 5xx answers returns an allowed fallback."""
    emu.set_fault(CHECK, "status", status=502)
    async with client(emu, fail_open=True) as autumn:
        result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (result.allowed, result.fallback, result.fallback_source) == (True, True, "client")
    assert isinstance(result.fallback_cause, InternalServerError)
    assert emu.stats()[CHECK] == INSTANT_RETRIES.max_attempts


# -- latency ----------------------------------------------------------------------------


async def test_latency_past_the_timeout_is_retried_to_success() -> None:
    """An attempt slower than the client timeout is abandoned and retried; it counts once."""
    async with Emulator(secret_key="am_sk_test") as emu:
        await emu.add_feature("messages")
        await emu.add_balance(customer_id="c1", feature_id="messages", included_grant=10)
        emu.set_fault(TRACK, "latency", latency_ms=400, count=1)
        async with client(emu, timeout=0.1) as autumn:
            result = await autumn.balances.track(customer_id="c1", feature_id="messages")
        assert result.balance is not None
        assert result.balance.usage == 1
        assert emu.stats()[TRACK] == 2
    # Shutting down let the slow first attempt finish: its key was taken, so it was refused.
    assert len(emu.ledger()) == 1


async def test_latency_without_retries_is_a_timeout_that_may_have_applied() -> None:
    """Without retries a slow answer raises APITimeoutError marked maybe_applied, and it was."""
    async with Emulator(secret_key="am_sk_test") as emu:
        await emu.add_feature("messages")
        await emu.add_balance(customer_id="c1", feature_id="messages", included_grant=10)
        emu.set_fault(TRACK, "latency", latency_ms=400)
        async with client(emu, None, timeout=0.1) as autumn:
            with pytest.raises(APITimeoutError) as info:
                await autumn.balances.track(customer_id="c1", feature_id="messages")
        assert info.value.maybe_applied is True
    assert len(emu.ledger()) == 1  # the server finished the work after the client gave up


async def test_latency_within_the_timeout_only_slows_the_call(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """Latency shorter than the timeout costs time, not an attempt."""
    emu.set_fault(CHECK, "latency", latency_ms=50)
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert result.allowed is True
    assert emu.stats()[CHECK] == 1


# -- dropped connections ----------------------------------------------------------------


async def test_drop_before_is_retried_to_success(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A connection dropped before processing is retried and the track applies once."""
    emu.set_fault(TRACK, "drop_before", count=1)
    result = await autumn.balances.track(customer_id="c1", feature_id="messages", value=3)
    assert result.replayed is False
    assert result.balance is not None
    assert result.balance.usage == 3
    assert len(emu.ledger()) == 1


async def test_drop_before_without_retries_is_a_connection_error(
    no_retries: AsyncAutumn, emu: Emulator
) -> None:
    """Without retries a dropped connection raises APIConnectionError and nothing applied."""
    emu.set_fault(TRACK, "drop_before")
    with pytest.raises(APIConnectionError) as info:
        await no_retries.balances.track(customer_id="c1", feature_id="messages")
    assert not isinstance(info.value, APITimeoutError)
    assert emu.ledger() == []


async def test_drop_after_track_is_replayed_not_doubled(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A track whose answer was lost is retried, refused as a duplicate, and reported replayed."""
    emu.set_fault(TRACK, "drop_after", count=1)
    result = await autumn.balances.track(
        customer_id="c1", feature_id="messages", value=5, timeout=LOST_ANSWER_TIMEOUT
    )
    assert (result.replayed, result.balance, result.value) == (True, None, 5)
    assert len(emu.ledger()) == 1
    assert usage(emu) == 5


async def test_drop_after_without_retries_may_have_applied(
    no_retries: AsyncAutumn, emu: Emulator
) -> None:
    """Without retries a lost answer raises APIConnectionError(maybe_applied=True); it applied."""
    emu.set_fault(TRACK, "drop_after")
    with pytest.raises(APIConnectionError) as info:
        await no_retries.balances.track(customer_id="c1", feature_id="messages")
    assert info.value.maybe_applied is True
    assert len(emu.ledger()) == 1


async def test_drop_after_create_is_replayed_once(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A create whose answer was lost succeeds as replayed and grants exactly once."""
    emu.set_fault(CREATE, "drop_after", count=1)
    await emu.add_feature("tokens")
    result = await autumn.balances.create(
        customer_id="c1", feature_id="tokens", included=10, timeout=LOST_ANSWER_TIMEOUT
    )
    assert (result.success, result.replayed) == (True, True)
    assert len(emu.balances("c1")["tokens"]["breakdown"]) == 1


async def test_drop_after_update_is_replayed_once(autumn: AsyncAutumn, emu: Emulator) -> None:
    """An add_to_balance whose answer was lost is applied once and reported replayed."""
    emu.set_fault(UPDATE, "drop_after", count=1)
    result = await autumn.balances.update(
        customer_id="c1", feature_id="messages", add_to_balance=-10, timeout=LOST_ANSWER_TIMEOUT
    )
    assert (result.success, result.replayed) == (True, True)
    assert emu.balances("c1")["messages"]["remaining"] == 999_990


async def test_drop_after_plain_check_is_simply_retried(autumn: AsyncAutumn, emu: Emulator) -> None:
    """A read-only check whose answer was lost is resent and answered normally."""
    emu.set_fault(CHECK, "drop_after", count=1)
    result = await autumn.balances.check(customer_id="c1", feature_id="messages")
    assert (result.allowed, result.fallback) == (True, False)
    assert emu.stats()[CHECK] == 2


async def test_drop_after_send_event_check_is_outcome_unknown(
    autumn: AsyncAutumn, emu: Emulator
) -> None:
    """A check-and-deduct whose answer was lost raises OutcomeUnknownError; it counted once."""
    emu.set_fault(CHECK, "drop_after", count=1)
    with pytest.raises(OutcomeUnknownError) as info:
        await autumn.balances.check(
            customer_id="c1",
            feature_id="messages",
            required_balance=4,
            send_event=True,
            timeout=LOST_ANSWER_TIMEOUT,
        )
    assert (info.value.status_code, info.value.code) == (409, "duplicate_idempotency_key")
    assert len(emu.ledger()) == 1
    assert usage(emu) == 4


# -- at volume --------------------------------------------------------------------------


async def gather_limited(calls: list[Any], limit: int) -> list[Any]:
    """Await coroutines at most ``limit`` at a time; exceptions are returned, not raised."""
    gate = asyncio.Semaphore(limit)

    async def run(call: Any) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(run(c) for c in calls), return_exceptions=True)


async def test_1000_tracks_under_30_percent_drop_after_count_exactly_once(
    emu: Emulator,
) -> None:
    """With 30 % of track answers lost after applying, 1,000 SDK tracks leave 1,000 events."""
    emu.set_fault(TRACK, "drop_after", probability=0.3, seed=4)
    async with client(emu, PATIENT_RETRIES, timeout=LOST_ANSWER_TIMEOUT) as autumn:
        results = await gather_limited(
            [
                autumn.balances.track(customer_id="c1", feature_id="messages", value=1)
                for _ in range(1000)
            ],
            50,
        )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    ledger = emu.ledger()
    assert len(ledger) == 1000
    assert len({event["idempotency_key"] for event in ledger}) == 1000
    assert usage(emu) == 1000
    replayed = sum(r.replayed for r in results)
    assert 200 < replayed < 400  # about 30 % of the answers were lost and replayed
    assert emu.stats()[TRACK] > 1000 + replayed  # each replay cost at least one more request


async def test_send_event_checks_under_drop_after_never_double_count(emu: Emulator) -> None:
    """Under 30 % drop_after each check-and-deduct is allowed or OutcomeUnknownError; once each."""
    emu.set_fault(CHECK, "drop_after", probability=0.3, seed=7)
    async with client(emu, PATIENT_RETRIES, timeout=LOST_ANSWER_TIMEOUT) as autumn:
        results = await gather_limited(
            [
                autumn.balances.check(customer_id="c1", feature_id="messages", send_event=True)
                for _ in range(300)
            ],
            50,
        )
    unknown = [r for r in results if isinstance(r, OutcomeUnknownError)]
    allowed = [r for r in results if not isinstance(r, BaseException) and r.allowed]
    assert len(unknown) + len(allowed) == 300
    assert unknown  # the fault did hit
    assert len(emu.ledger()) == 300  # every lost answer was an applied deduction, counted once
    assert usage(emu) == 300


async def test_scarce_send_event_checks_under_drop_after_never_overdraw(emu: Emulator) -> None:
    """With too little balance, lost answers never let check-and-deduct overdraw or double count."""
    await emu.add_feature("seats")
    await emu.add_balance(customer_id="c1", feature_id="seats", included_grant=100)
    emu.set_fault(CHECK, "drop_after", probability=0.3, seed=11)
    async with client(emu, PATIENT_RETRIES, timeout=LOST_ANSWER_TIMEOUT) as autumn:
        results = await gather_limited(
            [
                autumn.balances.check(customer_id="c1", feature_id="seats", send_event=True)
                for _ in range(150)
            ],
            50,
        )
    unknown = sum(isinstance(r, OutcomeUnknownError) for r in results)
    allowed = sum(not isinstance(r, BaseException) and r.allowed for r in results)
    denied = sum(not isinstance(r, BaseException) and not r.allowed for r in results)
    assert unknown + allowed + denied == 150
    events = len(emu.ledger())
    assert allowed <= events <= min(100, allowed + unknown)
    assert emu.balances("c1")["seats"]["usage"] == events
