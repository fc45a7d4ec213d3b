"""The request pipeline through aioresponses: results, errors, retries, idempotency, fail-open."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
import pytest

from autumn_async import (
    APIConnectionError,
    AsyncAutumn,
    AutumnDefaultError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseValidationError,
    RetryConfig,
    UsageError,
)

from .._aioresponses_compat import compat_aioresponses
from ..conftest import BASE, INSTANT_RETRIES, SECRET, example

CHECK = f"{BASE}/v1/balances.check"
TRACK = f"{BASE}/v1/balances.track"
CREATE = f"{BASE}/v1/balances.create"
UPDATE = f"{BASE}/v1/balances.update"
DUPLICATE = example("error_duplicate_idempotency_key_409.json")


def sent_bodies(mock: compat_aioresponses, url: str) -> list[dict[str, Any]]:
    """The JSON bodies posted to ``url``, in order."""
    from yarl import URL

    calls = mock.requests.get(("POST", URL(url)), [])
    return [json.loads(call.kwargs["data"]) for call in calls]


def sent_headers(mock: compat_aioresponses, url: str) -> list[dict[str, str]]:
    from yarl import URL

    return [dict(call.kwargs.get("headers") or {}) for call in mock.requests[("POST", URL(url))]]


async def test_check_returns_the_model(client: AsyncAutumn, mock_api: compat_aioresponses) -> None:
    """A 200 check answer becomes a BalancesCheckResponse with its balance."""
    mock_api.post(CHECK, payload=example("balances_check_response_metered_allowed.json"))
    res = await client.balances.check(customer_id="cus_123", feature_id="messages")
    assert res.allowed is True
    assert res.balance is not None
    assert res.balance.remaining == 72
    assert res.fallback is False


async def test_check_202_is_a_marked_server_fallback(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """Autumn's 202 fail-open answer is success, marked as a fallback from the server."""
    mock_api.post(CHECK, status=202, payload=example("balances_check_response_failopen_202.json"))
    res = await client.balances.check(customer_id="cus_123", feature_id="messages")
    assert res.allowed is True
    assert res.fallback is True
    assert res.fallback_source == "server"


async def test_track_202_is_marked_queued(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """A 202 track answer is success with queued=True and no balance."""
    mock_api.post(TRACK, status=202, payload=example("balances_track_response_queued_202.json"))
    res = await client.balances.track(customer_id="cus_123", feature_id="messages")
    assert res.queued is True
    assert res.balance is None


async def test_create_and_update_return_success(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """create and update answer {"success": true}."""
    mock_api.post(CREATE, payload=example("balances_create_response.json"))
    mock_api.post(UPDATE, payload=example("balances_update_response.json"))
    created = await client.balances.create(customer_id="c", feature_id="f", included=10)
    updated = await client.balances.update(customer_id="c", feature_id="f", add_to_balance=5)
    assert created.success and not created.replayed
    assert updated.success and not updated.replayed


async def test_track_always_sends_an_idempotency_key(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """Without a caller key, track sends a fresh UUID4; with one, the caller's."""
    mock_api.post(TRACK, payload=example("balances_track_response_feature.json"), repeat=True)
    await client.balances.track(customer_id="c", feature_id="f")
    await client.balances.track(customer_id="c", feature_id="f")
    await client.balances.track(customer_id="c", feature_id="f", idempotency_key="mine")
    keys = [b["idempotency_key"] for b in sent_bodies(mock_api, TRACK)]
    assert len(keys[0]) == 36 and len(set(keys[:2])) == 2
    assert keys[2] == "mine"


async def test_track_reuses_its_key_on_every_retry(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """A retried track carries the same idempotency_key, so it cannot count twice."""
    mock_api.post(TRACK, status=503, headers={"Retry-After": "0"}, payload={"message": "x"})
    mock_api.post(TRACK, exception=aiohttp.ServerDisconnectedError())
    mock_api.post(TRACK, payload=example("balances_track_response_feature.json"))
    res = await client.balances.track(customer_id="c", feature_id="f", value=3)
    assert res.value == 3
    keys = {b["idempotency_key"] for b in sent_bodies(mock_api, TRACK)}
    assert len(sent_bodies(mock_api, TRACK)) == 3
    assert len(keys) == 1


@pytest.mark.parametrize(
    ("op", "url", "kwargs"),
    [
        ("create", CREATE, {"customer_id": "c", "feature_id": "f", "included": 1}),
        ("update", UPDATE, {"customer_id": "c", "feature_id": "f", "add_to_balance": 1}),
        ("check", CHECK, {"customer_id": "c", "feature_id": "f", "send_event": True}),
    ],
)
async def test_mutating_calls_reuse_one_idempotency_header(
    client: AsyncAutumn,
    mock_api: compat_aioresponses,
    op: str,
    url: str,
    kwargs: dict[str, Any],
) -> None:
    """create, update and check with send_event send one Idempotency-Key across retries."""
    body = (
        example("balances_check_response_metered_allowed.json")
        if op == "check"
        else {"success": True}
    )
    mock_api.post(url, status=502, body="bad gateway")
    mock_api.post(url, payload=body)
    await getattr(client.balances, op)(**kwargs)
    keys = [h["Idempotency-Key"] for h in sent_headers(mock_api, url)]
    assert len(keys) == 2 and keys[0] == keys[1]


async def test_read_only_check_sends_no_idempotency_header(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """A plain check is safe to repeat as it is: no Idempotency-Key."""
    mock_api.post(CHECK, payload=example("balances_check_response_metered_allowed.json"))
    await client.balances.check(customer_id="c", feature_id="f")
    assert "Idempotency-Key" not in sent_headers(mock_api, CHECK)[0]


#: A short per-attempt timeout: a 409 is confirmed this long after the ambiguous attempt.
SHORT = 0.05
#: Long enough that the retry right after a dropped attempt surely comes inside the window,
#: even on a loaded machine (the "too early" 409 must be too early for these tests' point).
WINDOW = 1.5


async def test_409_after_an_ambiguous_attempt_is_delivered(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """A duplicate of our own key, confirmed one attempt timeout later, is a delivery."""
    mock_api.post(TRACK, exception=aiohttp.ServerDisconnectedError())
    mock_api.post(TRACK, status=409, payload=DUPLICATE)  # too early: the first may still run
    mock_api.post(TRACK, status=409, payload=DUPLICATE)  # confirmed
    res = await client.balances.track(customer_id="c", feature_id="f", value=2, timeout=WINDOW)
    assert res.replayed is True
    assert res.value == 2
    assert len(sent_bodies(mock_api, TRACK)) == 3


async def test_early_409_then_success_means_the_first_attempt_failed(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """If the running first attempt fails and releases the key, asking again applies it once."""
    mock_api.post(TRACK, exception=aiohttp.ServerDisconnectedError())
    mock_api.post(TRACK, status=409, payload=DUPLICATE)
    mock_api.post(TRACK, payload=example("balances_track_response_feature.json"))
    res = await client.balances.track(customer_id="c", feature_id="f", timeout=WINDOW)
    assert res.replayed is False
    assert len({b["idempotency_key"] for b in sent_bodies(mock_api, TRACK)}) == 1


async def test_unconfirmed_409_when_the_budget_runs_out_is_outcome_unknown(
    mock_api: compat_aioresponses,
) -> None:
    """A 409 that cannot be confirmed within the retry budget raises OutcomeUnknownError."""
    mock_api.post(TRACK, exception=aiohttp.ServerDisconnectedError())
    mock_api.post(TRACK, status=409, payload=DUPLICATE)
    two = RetryConfig("backoff", INSTANT_RETRIES.backoff, max_attempts=2)
    async with AsyncAutumn(secret_key=SECRET, server_url=BASE, retry_config=two) as autumn:
        with pytest.raises(OutcomeUnknownError) as info:
            await autumn.balances.track(customer_id="c", feature_id="f", idempotency_key="k-1")
    assert info.value.idempotency_key == "k-1"
    assert info.value.maybe_applied is True


async def test_409_for_create_after_a_timeout_is_delivered(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """create whose first answer was lost and whose retry is a confirmed duplicate succeeded."""
    mock_api.post(CREATE, status=504, body="gateway timeout")
    mock_api.post(CREATE, status=409, payload=DUPLICATE, repeat=True)
    res = await client.balances.create(customer_id="c", feature_id="f", included=5, timeout=SHORT)
    assert res.success is True and res.replayed is True


async def test_409_on_check_with_send_event_is_outcome_unknown(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """check(send_event=True) cannot know its answer after a duplicate: a clear error."""
    mock_api.post(CHECK, exception=aiohttp.ServerDisconnectedError())
    mock_api.post(CHECK, status=409, payload=DUPLICATE, repeat=True)
    with pytest.raises(OutcomeUnknownError, match="may have been recorded") as info:
        await client.balances.check(
            customer_id="c", feature_id="f", send_event=True, idempotency_key="chk-1", timeout=SHORT
        )
    assert info.value.idempotency_key == "chk-1"


async def test_409_on_first_attempt_is_a_conflict(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """A duplicate of the caller's own earlier key is a ConflictError, not a success."""
    mock_api.post(TRACK, status=409, payload=DUPLICATE)
    with pytest.raises(ConflictError) as info:
        await client.balances.track(customer_id="c", feature_id="f", idempotency_key="k")
    assert info.value.code == "duplicate_idempotency_key"
    assert not isinstance(info.value, OutcomeUnknownError)


async def test_409_after_only_never_sent_failures_is_a_conflict(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """If no earlier attempt can have been applied, a 409 is a real conflict."""
    mock_api.post(TRACK, exception=aiohttp.ClientConnectorError(_conn_key(), OSError(111, "no")))
    mock_api.post(TRACK, status=409, payload=DUPLICATE)
    with pytest.raises(ConflictError):
        await client.balances.track(customer_id="c", feature_id="f", idempotency_key="k")


def _conn_key() -> Any:
    from aiohttp.client_reqrep import ConnectionKey

    return ConnectionKey("autumn.test", 80, False, True, None, None, None)


async def test_429_is_retried_and_then_raised(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """A 429 is retried; when retries run out the RateLimitError carries Retry-After."""
    text = "Too many requests, please try again later."
    for _ in range(5):
        mock_api.post(CHECK, status=429, body=text, headers={"Retry-After": "0"})
    with pytest.raises(RateLimitError) as info:
        await client.balances.check(customer_id="c", feature_id="f")
    assert info.value.retry_after == 0
    assert len(sent_bodies(mock_api, CHECK)) == 5


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, example("error_validation_400.json"), BadRequestError),
        (404, example("error_customer_not_found_404.json"), NotFoundError),
        (500, {"message": "input: Invalid input", "code": "invalid_inputs"}, InternalServerError),
    ],
)
async def test_final_errors_are_not_retried(
    client: AsyncAutumn,
    mock_api: compat_aioresponses,
    status: int,
    body: dict[str, Any],
    cls: type[AutumnDefaultError],
) -> None:
    """4xx and 500 invalid_inputs raise at once, after one attempt."""
    mock_api.post(CREATE, status=status, payload=body)
    with pytest.raises(cls):
        await client.balances.create(customer_id="c", feature_id="f", included=1)
    assert len(sent_bodies(mock_api, CREATE)) == 1


async def test_retries_none_makes_one_attempt(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """retries=None on a call switches retries off for that call."""
    mock_api.post(CHECK, status=503, body="down")
    with pytest.raises(InternalServerError):
        await client.balances.check(customer_id="c", feature_id="f", retries=None)
    assert len(sent_bodies(mock_api, CHECK)) == 1


async def test_client_without_retries(mock_api: compat_aioresponses) -> None:
    """retry_config=None on the client means one attempt per call."""
    mock_api.post(CHECK, status=503, body="down")
    async with AsyncAutumn(secret_key=SECRET, server_url=BASE, retry_config=None) as autumn:
        with pytest.raises(InternalServerError):
            await autumn.balances.check(customer_id="c", feature_id="f")
    assert len(sent_bodies(mock_api, CHECK)) == 1


async def test_bad_body_is_a_response_validation_error(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """A 200 whose body does not fit keeps the raw body on ResponseValidationError."""
    mock_api.post(CHECK, body="<html>oops</html>", content_type="text/html")
    with pytest.raises(ResponseValidationError) as info:
        await client.balances.check(customer_id="c", feature_id="f")
    assert info.value.body == "<html>oops</html>"
    mock_api.post(CHECK, payload={"allowed": "yes", "customer_id": "c", "balance": None})
    with pytest.raises(ResponseValidationError, match="allowed"):
        await client.balances.check(customer_id="c", feature_id="f")


async def test_fail_open_returns_a_marked_fallback(
    mock_api: compat_aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    """With fail_open, an unreachable Autumn gives allowed=True marked with its cause."""
    mock_api.post(CHECK, status=503, body="down", repeat=True)
    async with AsyncAutumn(
        secret_key=SECRET,
        server_url=BASE,
        retry_config=RetryConfig("backoff", INSTANT_RETRIES.backoff, max_attempts=2),
        fail_open=True,
    ) as autumn:
        with caplog.at_level(logging.WARNING, logger="autumn_balances"):
            res = await autumn.balances.check(customer_id="c", feature_id="f", required_balance=4)
    assert res.allowed is True
    assert res.fallback is True
    assert res.fallback_source == "client"
    assert isinstance(res.fallback_cause, InternalServerError)
    assert res.required_balance == 4
    assert any("failed open" in r.getMessage() for r in caplog.records)


async def test_fail_open_is_off_by_default(
    client: AsyncAutumn, mock_api: compat_aioresponses
) -> None:
    """Without fail_open, a failing check raises."""
    mock_api.post(CHECK, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    with pytest.raises(APIConnectionError):
        await client.balances.check(customer_id="c", feature_id="f")


async def test_fail_open_does_not_hide_client_errors(mock_api: compat_aioresponses) -> None:
    """fail_open covers outages only: a 404 still raises."""
    mock_api.post(CHECK, status=404, payload=example("error_customer_not_found_404.json"))
    async with AsyncAutumn(secret_key=SECRET, server_url=BASE, fail_open=True) as autumn:
        with pytest.raises(NotFoundError):
            await autumn.balances.check(customer_id="c", feature_id="f")


async def test_closed_client_refuses_calls(mock_api: compat_aioresponses) -> None:
    """After aclose (idempotent), a call raises UsageError and sends nothing."""
    autumn = AsyncAutumn(secret_key=SECRET, server_url=BASE)
    await autumn.aclose()
    await autumn.aclose()
    assert autumn.closed
    with pytest.raises(UsageError, match="closed"):
        await autumn.balances.check(customer_id="c", feature_id="f")
    assert not mock_api.requests
