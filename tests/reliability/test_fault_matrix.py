"""Every operation against every fault: the documented outcome, and at most one application.

The outcomes follow the one retry policy (``autumn_async._retry``), which follows Autumn's
idempotency (``server/src/internal/misc/idempotency/withIdempotencyKey.ts``): a 5xx with
Autumn's JSON error body released the key, so a state-changing call is not resent (the
error says ``maybe_applied``); a 409 after a lost answer is trusted only one per-attempt
timeout after that attempt started, so it is asked twice when it comes back at once.

Emulator faults (error statuses, latency, dropped connections) come from the emulator's
fault API; wire-level hostility (malformed JSON, an HTML error page, a truncated body,
wrong types) from a raw proxy in front of the emulator, so a corrupted answer can follow
a request the emulator really applied. The ledger and balances then show how many times
each call took effect: exactly once for a state-changing call, never for a plain check.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from autumn_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncAutumn,
    AutumnError,
    BackoffStrategy,
    BalancesCheckResponse,
    BalancesCreateResponse,
    BalancesTrackResponse,
    BalancesUpdateResponse,
    InternalServerError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseValidationError,
    RetryConfig,
)
from autumn_emulator import Emulator

from ..conftest import INSTANT_RETRIES
from ._servers import RawRequest, RawServer, relay, respond
from .conftest import OPS, Op

#: Client timeout for the latency faults, and the latency that exceeds it.
TIMEOUT_S = 0.2
LATENCY_MS = 500

EMULATOR_FAULTS: dict[str, dict[str, Any]] = {
    "429_text_retry_after": {"kind": "status", "status": 429, "retry_after": 0},
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503_retry_after": {"kind": "status", "status": 503, "retry_after": 0},
    "latency_past_timeout": {"kind": "latency", "latency_ms": LATENCY_MS},
    "drop_before": {"kind": "drop_before"},
    "drop_after": {"kind": "drop_after"},
}
WIRE_FAULTS = (
    "latency_after_applying",
    "malformed_json",
    "html_error_page",
    "truncated_body",
    "wrong_types",
)
#: Faults that make the client give up waiting, so it runs with the short timeout.
SLOW_FAULTS = ("latency_past_timeout", "latency_after_applying")
#: Faults that lose the answer of an applied attempt: the retry's 409 comes back at once
#: and is confirmed after one per-attempt timeout, so these run with a short one too.
LOST_ANSWER_FAULTS = ("drop_after", "truncated_body")
CONFIRM_TIMEOUT_S = 1.0  # the retry must come inside it even on a loaded machine
#: Emulator faults answering a 5xx with Autumn's JSON error body (the key is released).
APPLICATION_5XX = ("500", "502", "503_retry_after")
ALL_FAULTS = (*EMULATOR_FAULTS, *WIRE_FAULTS)

HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>nginx</center></body></html>"
)


def expected_outcome(op: str, fault: str) -> str | type[AutumnError]:
    """The documented outcome of one transient fault (it happens to the first attempt only).

    A lost answer to an applied call is found by the retry's 409: create, update and
    track report ``replayed``; a check that deducted cannot know its decision.
    """
    if fault in ("malformed_json", "wrong_types"):
        return ResponseValidationError  # 2xx that does not fit: never retried
    if fault in APPLICATION_5XX and OPS[op].mutating:
        return InternalServerError  # the key was released: never resent, maybe applied
    if fault in ("drop_after", "truncated_body", "latency_after_applying"):
        if op == "check":
            return "result"  # read-only: the retry simply asks again
        if op == "check_send_event":
            return OutcomeUnknownError
        return "replayed"
    return "result"


def expected_attempts(op: str, fault: str) -> int:
    """Requests that reach the first hop: one failed attempt and one retry, unless not retried.

    A lost answer to a state-changing call takes a third: the first 409 comes too early
    to be trusted (the first attempt might still be running), the second confirms it.
    """
    if fault in ("malformed_json", "wrong_types"):
        return 1
    if fault in APPLICATION_5XX and OPS[op].mutating:
        return 1
    if fault in LOST_ANSWER_FAULTS and OPS[op].mutating:
        return 3
    return 2


def timeout_for(fault: str) -> float:
    """The per-attempt timeout a fault's test runs with."""
    if fault in SLOW_FAULTS:
        return TIMEOUT_S
    return CONFIRM_TIMEOUT_S if fault in LOST_ANSWER_FAULTS else 10.0


def _corrupt_types(body: bytes) -> bytes:
    data = json.loads(body)
    for key in ("allowed", "success", "value"):
        if key in data:
            data[key] = str(data[key])  # "True", "3": a string where a bool or number belongs
            break
    return json.dumps(data).encode()


def wire_script(server_ref: list[RawServer], fault: str) -> Any:
    """A proxy script that spoils the first answer in the way ``fault`` names."""

    async def script(request: RawRequest, writer: asyncio.StreamWriter, index: int) -> None:
        server = server_ref[0]
        if index > 0:
            await relay(server, request, writer)
            return
        if fault == "html_error_page":  # a gateway that never reached Autumn
            await respond(writer, 502, HTML_502, content_type="text/html")
            return
        answer = await server.forward(request)  # applied by the emulator from here on
        if fault == "malformed_json":
            await respond(writer, answer.status, answer.body[:-5])
        elif fault == "wrong_types":
            await respond(writer, answer.status, _corrupt_types(answer.body))
        elif fault == "latency_after_applying":  # applied, but the answer comes too late
            await asyncio.sleep(LATENCY_MS / 1000)
            await respond(writer, answer.status, answer.body)
        elif fault == "truncated_body":
            half = answer.body[: len(answer.body) // 2]
            await respond(writer, answer.status, half, content_length=len(answer.body))
        else:  # pragma: no cover
            raise AssertionError(fault)

    return script


def assert_result(op: Op, result: object, *, replayed: bool) -> None:
    if op.name == "create":
        assert isinstance(result, BalancesCreateResponse)
        assert result.success
        assert result.replayed is replayed
    elif op.name == "update":
        assert isinstance(result, BalancesUpdateResponse)
        assert result.success
        assert result.replayed is replayed
    elif op.name.startswith("check"):
        assert isinstance(result, BalancesCheckResponse)
        assert result.allowed is True
        assert result.fallback is False
    else:
        assert isinstance(result, BalancesTrackResponse)
        assert result.value == 3
        assert result.replayed is replayed


async def _run(op: Op, url: str, key: str, timeout: float, retries: RetryConfig) -> Any:
    async with AsyncAutumn(
        secret_key=key, server_url=url, retry_config=retries, timeout=timeout
    ) as autumn:
        try:
            return await op.call(autumn)
        except AutumnError as exc:
            return exc


@pytest.mark.parametrize("fault", ALL_FAULTS)
@pytest.mark.parametrize("op_name", list(OPS))
async def test_transient_fault(emu: Emulator, op_name: str, fault: str) -> None:
    """One fault on the first attempt: the documented outcome, and exactly one application."""
    op = OPS[op_name]
    timeout = timeout_for(fault)
    if fault in EMULATOR_FAULTS:
        emu.set_fault(op.route, count=1, **EMULATOR_FAULTS[fault])
        outcome = await _run(op, emu.url, emu.secret_key, timeout, INSTANT_RETRIES)
        attempts = emu.stats().get(op.route, 0)
    else:
        ref: list[RawServer] = []
        async with RawServer(wire_script(ref, fault), upstream=emu.url) as proxy:
            ref.append(proxy)
            outcome = await _run(op, proxy.url, emu.secret_key, timeout, INSTANT_RETRIES)
            attempts = len(proxy.requests)
    if fault == "latency_past_timeout":
        # The abandoned attempt is still being served and is applied late, after the
        # retry: let it finish, to show that it then meets a 409 and is not applied twice.
        await asyncio.sleep(LATENCY_MS / 1000 + 0.2)

    want = expected_outcome(op_name, fault)
    if isinstance(want, str):
        assert not isinstance(outcome, AutumnError), repr(outcome)
        assert_result(op, outcome, replayed=want == "replayed")
    else:
        assert type(outcome) is want, repr(outcome)
        if isinstance(outcome, ResponseValidationError):
            assert outcome.status_code == 200
            assert outcome.body  # the raw text is kept for the bug report
        if op.mutating:
            assert outcome.idempotency_key is not None  # the caller can resend safely
    assert attempts == expected_attempts(op_name, fault)
    if isinstance(outcome, InternalServerError):
        # The emulator's status fault answers before applying; the SDK cannot know that.
        assert outcome.maybe_applied is True
        assert op.applications(emu) == 0
    else:
        assert op.applications(emu) == (1 if op.mutating else 0)


PERSISTENT: dict[str, tuple[dict[str, Any], type[AutumnError]]] = {
    "429_text_retry_after": (EMULATOR_FAULTS["429_text_retry_after"], RateLimitError),
    "500": (EMULATOR_FAULTS["500"], InternalServerError),
    "502": (EMULATOR_FAULTS["502"], InternalServerError),
    "503_retry_after": (EMULATOR_FAULTS["503_retry_after"], InternalServerError),
    "latency_past_timeout": (EMULATOR_FAULTS["latency_past_timeout"], APITimeoutError),
    "drop_before": (EMULATOR_FAULTS["drop_before"], APIConnectionError),
    "drop_after": (EMULATOR_FAULTS["drop_after"], APIConnectionError),
}
THREE_INSTANT = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 60_000), True, max_attempts=3)


@pytest.mark.parametrize("fault", list(PERSISTENT))
@pytest.mark.parametrize("op_name", list(OPS))
async def test_persistent_fault(emu: Emulator, op_name: str, fault: str) -> None:
    """A fault on every attempt: the typed error after the attempts run out, never a double."""
    op = OPS[op_name]
    options, error_type = PERSISTENT[fault]
    timeout = TIMEOUT_S if fault == "latency_past_timeout" else 10.0
    emu.set_fault(op.route, **options)
    outcome = await _run(op, emu.url, emu.secret_key, timeout, THREE_INSTANT)
    if fault == "latency_past_timeout":
        await asyncio.sleep(LATENCY_MS / 1000 + 0.2)
    assert type(outcome) is error_type, repr(outcome)
    never_resent = fault in APPLICATION_5XX and op.mutating
    assert emu.stats().get(op.route, 0) == (1 if never_resent else 3)
    if isinstance(outcome, RateLimitError):
        assert outcome.retry_after == 0
        assert outcome.code is None
        assert "Too many requests" in outcome.message  # the limiter's plain-text body
    if isinstance(outcome, InternalServerError):
        assert outcome.status_code == int(fault[:3])
    # A fault that lets the request reach the emulator lets the call through, once: the
    # late or answerless attempts after the first meet a 409.
    applied_once = fault in ("drop_after", "latency_past_timeout") and op.mutating
    assert op.applications(emu) == (1 if applied_once else 0)
