"""The secret key never shows: not in reprs of clients, options or batchers, not in any
error (text, repr, attributes, pickle, traceback), not in any log record at DEBUG.

Every error path is provoked for real (the emulator's faults, hostile loopback answers,
a refused connection, bad arguments) with the root logger at DEBUG, so aiohttp's and
asyncio's records are searched too.
"""

from __future__ import annotations

import logging
import pickle
import socket
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from autumn_async import (
    AsyncAutumn,
    AutumnError,
    BackoffStrategy,
    RetryConfig,
    Timeout,
    UsageError,
)
from autumn_emulator import Emulator

from ._servers import RawRequest, RawServer, respond

KEY = "am_sk_test_Zq8sECRETv4lue0123456789"
#: What must never appear: the key, and any tail of it past the masked prefix.
NEEDLES = (KEY, KEY[6:], KEY[11:], "Zq8sECRET")
CUSTOMER = "cus_secret"


def assert_clean(*texts: object) -> None:
    for text in texts:
        rendered = text.decode("latin-1") if isinstance(text, bytes) else str(text)
        for needle in NEEDLES:
            assert needle not in rendered, f"the key leaks in: {rendered[:300]}"


def error_texts(exc: BaseException) -> list[object]:
    """Everything a user, a logger or an error tracker may render of an error."""
    texts: list[object] = [
        str(exc),
        repr(exc),
        repr(exc.args),
        repr(getattr(exc, "__dict__", {})),
        pickle.dumps(exc),
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    ]
    clone = pickle.loads(pickle.dumps(exc))
    texts += [str(clone), repr(clone), repr(clone.__dict__)]
    return texts


async def _wrong_types(_: RawRequest, writer: Any, _i: int) -> None:
    await respond(writer, 200, b'{"allowed": "yes", "customer_id": 7}')


async def _truncated(_: RawRequest, writer: Any, _i: int) -> None:
    await respond(writer, 200, b'{"allowed": tr', content_length=500)


async def _malformed_http(_: RawRequest, writer: Any, _i: int) -> None:
    # aiohttp raises ClientResponseError here, whose request_info holds our headers.
    writer.write(b"HTTP/1.1 200 OK\r\nthis header line has no colon\r\n\r\n")
    await writer.drain()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Call = Callable[[AsyncAutumn], Awaitable[Any]]


def _check(**extra: Any) -> Call:
    return lambda a: a.balances.check(customer_id=CUSTOMER, feature_id="messages", **extra)


def _track(a: AsyncAutumn) -> Awaitable[Any]:
    return a.balances.track(customer_id=CUSTOMER, feature_id="messages", value=1)


#: (fault on the emulator or None, call, client options) per error path.
EMULATOR_PATHS: dict[str, tuple[dict[str, Any] | None, Call, dict[str, Any]]] = {
    "401_unknown_key": (None, _check(), {"unknown_key": True}),
    "404_not_found": (None, lambda a: a.balances.check(customer_id="nobody", feature_id="x"), {}),
    "429_rate_limited": ({"status": 429, "retry_after": 0}, _check(), {}),
    "500_internal": ({"status": 500}, _check(), {}),
    "503_unavailable": ({"status": 503, "retry_after": 0}, _track, {}),
    "drop_before": ({"kind": "drop_before"}, _track, {}),
    "timeout": ({"kind": "latency", "latency_ms": 300}, _check(), {"timeout": 0.1}),
    "outcome_unknown": (
        {"kind": "drop_after", "count": 1},
        _check(send_event=True, required_balance=1),
        {"retries": RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 5_000))},
    ),
}


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record of every logger, at DEBUG, for the duration of the test."""
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_logs_clean(log: pytest.LogCaptureFixture) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = log.records
    assert records, "nothing was logged at DEBUG: the capture is not working"
    for record in records:
        assert_clean(formatter.format(record), repr(record.args), repr(record.__dict__))


async def test_every_error_path_hides_the_key(debug_log: pytest.LogCaptureFixture) -> None:
    """Each kind of failure, rendered every way, and the DEBUG log: no key anywhere."""
    errors: dict[str, BaseException] = {}
    async with Emulator(secret_key=KEY) as emu:
        await emu.add_feature("messages")
        await emu.add_customer(CUSTOMER)
        await emu.add_balance(customer_id=CUSTOMER, feature_id="messages", included_grant=10)
        for name, (fault, call, options) in EMULATOR_PATHS.items():
            emu.clear_faults()
            if fault is not None:
                emu.set_fault("*", **{"kind": "status", **fault})
            key = "am_sk_test_" + "x" * 20 if options.get("unknown_key") else KEY
            # An unknown key is a secret too: the client that sends it must not show it.
            async with AsyncAutumn(
                secret_key=key,
                server_url=emu.url,
                timeout=options.get("timeout", 10.0),
                retry_config=options.get("retries", RetryConfig("none")),
            ) as autumn:
                try:
                    await call(autumn)
                except AutumnError as exc:
                    errors[name] = exc
    raw = {"wrong_types": _wrong_types, "truncated": _truncated, "malformed_http": _malformed_http}
    for name, script in raw.items():
        async with (
            RawServer(script) as server,
            AsyncAutumn(secret_key=KEY, server_url=server.url, retry_config=None) as a,
        ):
            try:
                await _check()(a)
            except AutumnError as exc:
                errors[name] = exc
    async with AsyncAutumn(
        secret_key=KEY, server_url=f"http://127.0.0.1:{_closed_port()}", retry_config=None
    ) as autumn:
        try:
            await _check()(autumn)
        except AutumnError as exc:
            errors["connection_refused"] = exc
        try:
            await autumn.balances.check(customer_id="", feature_id="f")
        except AutumnError as exc:
            errors["usage_error"] = exc
    try:
        await autumn.balances.check(customer_id="c", feature_id="f")
    except AutumnError as exc:
        errors["closed_client"] = exc

    expected = {
        *EMULATOR_PATHS,
        *raw,
        "connection_refused",
        "usage_error",
        "closed_client",
    }
    assert set(errors) == expected
    assert type(errors["outcome_unknown"]).__name__ == "OutcomeUnknownError"
    for exc in errors.values():
        assert_clean(*error_texts(exc))
        # The cause chain (aiohttp's own exceptions) is rendered by tracebacks and trackers.
        cause = exc.__cause__ or exc.__context__
        while cause is not None:
            assert_clean(str(cause), repr(cause))
            cause = cause.__cause__ or cause.__context__
    assert any("attempt=" in record.getMessage() for record in debug_log.records)
    assert_logs_clean(debug_log)


@pytest.mark.parametrize(
    "bad_key",
    [KEY + " ", " " + KEY, KEY + "\n", KEY.replace("_", "\t", 1), KEY + "\x00"],
    ids=["trailing_space", "leading_space", "newline", "tab", "nul"],
)
def test_a_malformed_key_is_refused_without_echoing_it(bad_key: str) -> None:
    """A key with blanks or control characters is a UsageError whose text omits the key."""
    with pytest.raises(UsageError) as info:
        AsyncAutumn(secret_key=bad_key)
    assert_clean(*error_texts(info.value))


async def test_reprs_of_clients_and_options(debug_log: pytest.LogCaptureFixture) -> None:
    """Clients (fresh and used), their balances, batchers and option objects hide the key."""
    texts: list[object] = []
    async with Emulator(secret_key=KEY) as emu:
        await emu.add_feature("messages")
        await emu.add_customer(CUSTOMER)
        async with AsyncAutumn(secret_key=KEY, server_url=emu.url) as autumn:
            texts += [repr(autumn), str(autumn), repr(autumn.balances)]
            await autumn.balances.check(customer_id=CUSTOMER, feature_id="messages")
            texts += [repr(autumn), str(autumn), format(autumn)]
            async with autumn.batcher(flush_interval=0.01) as batcher:
                await batcher.track(customer_id=CUSTOMER, feature_id="messages")
                texts += [repr(batcher), str(batcher), repr(batcher.stats)]
            texts += [repr(batcher)]
    texts += [repr(Timeout()), repr(RetryConfig()), repr(BackoffStrategy())]
    assert_clean(*texts)
    assert_logs_clean(debug_log)


def test_sync_client_and_batcher_hide_the_key(debug_log: pytest.LogCaptureFixture) -> None:
    """The blocking client and its batcher: reprs, errors and DEBUG logs without the key."""
    autumn_sync = pytest.importorskip("autumn_sync")
    from autumn_emulator import EmulatorThread

    texts: list[object] = []
    with EmulatorThread(secret_key=KEY) as emu:
        emu.add_feature("messages")
        emu.add_customer(CUSTOMER)
        emu.set_fault("/v1/balances.check", status=503, retry_after=0)
        with autumn_sync.Autumn(secret_key=KEY, server_url=emu.url, retry_config=None) as autumn:
            texts += [repr(autumn), str(autumn)]
            with pytest.raises(AutumnError) as info:
                autumn.balances.check(customer_id=CUSTOMER, feature_id="messages")
            texts += error_texts(info.value)
            make_batcher = getattr(autumn, "batcher", None)
            if make_batcher is not None:
                with make_batcher(flush_interval=0.01) as batcher:
                    batcher.track(customer_id=CUSTOMER, feature_id="messages")
                    texts += [repr(batcher), str(batcher)]
    assert_clean(*texts)
    assert_logs_clean(debug_log)
