"""Every operation's inputs, fuzzed: a valid request with exactly the given fields, or a
``UsageError`` with nothing sent; never any other exception.

The expected wire body is computed here from the documented rules (DESIGN.md §3 and the
operations' docstrings), independently of ``_requests.py``: documented names map to the
wire names every server reads, conflicting pairs are refused, ``track`` always carries an
idempotency key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import enum
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autumn_async import (
    NOT_GIVEN,
    AsyncAutumn,
    BalancesCreateReset,
    Interval,
    MockTransport,
    Request,
    Response,
    RetryConfig,
    Timeout,
    UsageError,
)

#: Examples per operation: enough to hit every branch, small enough for a bounded suite.
EXAMPLES = 200
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

INVALID = object()  # the oracle's "must raise UsageError"
INTERVALS = [member.value for member in Interval]
#: Where an encoder may differ (orjson refuses lone surrogates, json escapes them).
EITHER = object()

ANSWERS = {
    "/v1/balances.create": b'{"success": true}',
    "/v1/balances.update": b'{"success": true}',
    "/v1/balances.check": b'{"allowed": true, "customer_id": "c"}',
    "/v1/balances.track": b'{"customer_id": "c", "value": 1}',
}


def _answer(request: Request) -> Response:
    path = request.url.removeprefix("https://fuzz.test")
    return Response(status=200, headers={}, body=ANSWERS[path])


class Color(enum.IntEnum):
    RED = 1


# --- strategies --------------------------------------------------------------------------


def mostly(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int) -> Any:
    """``common`` about ``odds`` times in ``odds + 1`` (``one_of`` picks branches evenly)."""
    return st.integers(0, odds).flatmap(lambda i: rare if i == 0 else common)


# Each parameter has a strategy of valid values and one of invalid ones. An example is
# clean (all valid, so it exercises the wire mapping), has one bad argument (so the
# refusal names it), or is chaos (every argument from both): all three are common.


@dataclass(frozen=True)
class Param:
    """How to draw one argument: valid values and invalid ones."""

    good: st.SearchStrategy[Any]
    bad: st.SearchStrategy[Any]


#: Valid but awkward identifiers: a lone surrogate, the longest allowed, padded, bidi.
NASTY_TEXT = ["\ud800", " padded ", "é💥", "a" * 255, "null", "\u202e", "tab\u00a0nbsp"]
good_ids = st.one_of(
    st.text(min_size=1, max_size=12).filter(str.strip), st.sampled_from(NASTY_TEXT)
)
bad_ids = st.one_of(
    st.sampled_from(["", " ", "\t\n\r", "\u3000"]),
    # Control characters and over-long ids (issue 12 item 16): refused before sending.
    st.sampled_from(["\x00", "a\nb", "a\rb", "x\x1b[31m", "del\x7f", "c1\x85", "a" * 256]),
    st.integers(-5, 5),
    st.binary(max_size=4),
    st.floats(),
    st.just(["x"]),
)
good_numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1, 5, 5.0, 1e308, -1e308, 2**53 - 1, -(2**53 - 1), Color.RED]),
)
#: Ints beyond float range (math.isfinite raises OverflowError on them).
HUGE = [10**400, -(10**400)]
#: Ints Autumn (doubles) cannot hold exactly: refused, the field named (issue 12 item 15).
UNSAFE_INTS = [2**53, -(2**53), 2**63 - 1, 2**64, -(2**63) - 1, 10**30]
NOT_NUMBERS = [math.nan, math.inf, -math.inf, True, False, "1", "", b"1", decimal.Decimal("1.5")]
bad_numbers = st.sampled_from([*NOT_NUMBERS, *HUGE, *UNSAFE_INTS])
aware = st.datetimes(
    min_value=dt.datetime(1970, 1, 2),
    max_value=dt.datetime(2200, 1, 1),
    timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-7))]),
)
naive = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1))
#: An aware datetime before the epoch: refused like -1 (issue 12 item 15).
BEFORE_1970 = dt.datetime(1969, 12, 31, 23, 59, tzinfo=dt.timezone.utc)


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels):
        value = {"n": value}
    return value


def _json(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.tuples(inner, inner),
            st.dictionaries(st.text(max_size=5), inner, max_size=3),
        ),
        max_leaves=10,
    )


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
bad_leaves = st.one_of(
    st.sampled_from([math.nan, math.inf, b"bytes", {1, 2}, object(), decimal.Decimal("2")]),
    st.sampled_from([2**64, *HUGE]),
    st.just(dt.datetime(2030, 1, 1)),
)
good_json = st.dictionaries(st.text(max_size=6), _json(json_leaves), max_size=4)
bad_json = st.one_of(
    st.dictionaries(st.text(max_size=4), _json(bad_leaves), min_size=1, max_size=2),
    st.dictionaries(st.one_of(st.integers(0, 3), st.just(("t",))), json_leaves, min_size=1),
    st.just(_deep(40)),
    st.lists(json_leaves, max_size=2),
    st.text(max_size=3),
)
good_intervals = st.one_of(st.sampled_from(INTERVALS), st.sampled_from(list(Interval)))
bad_intervals = st.one_of(
    st.sampled_from(["", "monthly", "MONTH", "multiple", " month"]), st.integers(0, 3)
)
positive = st.one_of(st.integers(1, 1000), st.floats(0.001, 1e6))

ID = Param(good_ids, bad_ids)
OPT_ID = Param(st.one_of(st.none(), good_ids), bad_ids)
NUMBER = Param(st.one_of(st.none(), good_numbers), bad_numbers)
#: Amounts that alias each other come from a small pool too, so pairs are sometimes equal.
AMOUNT = Param(
    mostly(st.none(), st.one_of(st.sampled_from([5, 5.0, 7]), good_numbers), odds=2), bad_numbers
)
BOOL = Param(st.one_of(st.none(), st.booleans()), st.sampled_from([0, 1, "true", ""]))
TIMESTAMP = Param(
    st.one_of(st.none(), st.integers(0, 2**53), st.floats(0, 1e15), aware),
    st.one_of(
        naive,
        bad_numbers,
        st.sampled_from([-1, -0.5, dt.date(2030, 1, 1), BEFORE_1970]),
    ),
)
PROPERTIES = Param(st.one_of(st.none(), good_json, st.just(_deep(30))), bad_json)
INTERVAL = Param(st.one_of(st.none(), good_intervals), bad_intervals)
RESET = Param(
    st.one_of(
        st.none(),
        good_intervals,
        st.fixed_dictionaries({"interval": good_intervals}, optional={"interval_count": positive}),
        st.builds(
            BalancesCreateReset,
            interval=good_intervals,
            interval_count=st.one_of(st.none(), positive),
        ),
    ),
    st.one_of(
        bad_intervals,
        st.just({}),
        st.fixed_dictionaries({"interval": good_intervals, "every": st.just(2)}),
        st.fixed_dictionaries(
            {"interval": good_intervals},
            optional={"interval_count": st.one_of(bad_numbers, st.sampled_from([0, -1]))},
        ),
        st.just(3),
    ),
)
TIMEOUT = Param(
    st.one_of(st.just(NOT_GIVEN), positive, st.just(Timeout(total=1.0, connect=0.5))),
    st.sampled_from([0, -1, -0.5, math.nan, math.inf, *HUGE, True, False, "5", None]),
)
RETRIES = Param(
    st.sampled_from([NOT_GIVEN, None, RetryConfig("none"), RetryConfig()]),
    st.sampled_from(["3", 3, {"strategy": "none"}]),
)
OPTIONS = {"timeout": TIMEOUT, "retries": RETRIES}

SIGNATURES: dict[str, dict[str, Param]] = {
    "create": {
        "customer_id": ID,
        "feature_id": ID,
        "entity_id": OPT_ID,
        "included": AMOUNT,
        "unlimited": BOOL,
        "reset": RESET,
        "expires_at": TIMESTAMP,
        "granted_balance": AMOUNT,
        "included_grant": AMOUNT,
        "balance_id": OPT_ID,
        "rollover": PROPERTIES,
        "next_reset_at": TIMESTAMP,
        **OPTIONS,
    },
    "update": {
        "customer_id": ID,
        "feature_id": ID,
        "entity_id": OPT_ID,
        "current_balance": AMOUNT,
        "interval": INTERVAL,
        "granted_balance": AMOUNT,
        "usage": AMOUNT,
        "customer_entitlement_id": OPT_ID,
        "next_reset_at": TIMESTAMP,
        "add_to_balance": AMOUNT,
        "remaining": AMOUNT,
        "included_grant": AMOUNT,
        "balance_id": OPT_ID,
        "expires_at": TIMESTAMP,
        **OPTIONS,
    },
    "check": {
        "customer_id": ID,
        "feature_id": ID,
        "entity_id": OPT_ID,
        "required_balance": NUMBER,
        "properties": PROPERTIES,
        "send_event": BOOL,
        "with_preview": BOOL,
        **OPTIONS,
    },
    "track": {
        "customer_id": ID,
        # Exactly one of the two in a clean example (see draw_args).
        "feature_id": Param(good_ids, st.one_of(st.none(), bad_ids)),
        "event_name": Param(good_ids, st.one_of(st.none(), bad_ids)),
        "value": NUMBER,
        "properties": PROPERTIES,
        "idempotency_key": Param(
            st.one_of(st.none(), good_ids.filter(lambda k: len(k) <= 255), st.just("k" * 255)),
            st.one_of(bad_ids, st.just("k" * 256)),
        ),
        "entity_id": OPT_ID,
        **OPTIONS,
    },
}


def draw_args(data: st.DataObject, op: str) -> dict[str, Any]:
    """One example's arguments: clean, with one bad argument, or chaos."""
    signature = SIGNATURES[op]
    mode = data.draw(st.sampled_from(["clean", "clean", "one_bad", "chaos"]), label="mode")
    bad_one = (
        data.draw(st.sampled_from(sorted(signature)), label="bad") if mode == "one_bad" else ""
    )
    args = {}
    for name, param in signature.items():
        if mode == "chaos":
            strategy = st.one_of(param.good, param.bad)
        else:
            strategy = param.bad if name == bad_one else param.good
        args[name] = data.draw(strategy, label=name)
    if op == "track" and mode != "chaos" and bad_one not in ("feature_id", "event_name"):
        drop = data.draw(st.sampled_from(["feature_id", "event_name"]), label="target")
        args[drop] = None
    return args


# --- the oracle --------------------------------------------------------------------------


class Invalid(Exception):
    """The arguments break a documented rule: the call must raise ``UsageError``."""


def _encoder_dependent(value: object) -> bool:
    """A lone surrogate: orjson refuses it, json writes it."""
    if isinstance(value, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, Mapping):
        return any(_encoder_dependent(k) or _encoder_dependent(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_encoder_dependent(item) for item in value)
    return False


def want_id(value: object) -> str:
    """A non-blank string of at most 255 characters, no C0/C1 control character or DEL."""
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise Invalid
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise Invalid
    return value


def want_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid
    if isinstance(value, int) and abs(value) > 2**53 - 1:
        raise Invalid
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond float range
        raise Invalid from None
    if not finite:
        raise Invalid
    return value


def want_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid
    return value


def want_timestamp(value: object) -> float:
    """Unix ms >= 0, or an aware datetime (sent as whole ms)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.timestamp() < 0:
            raise Invalid
        return int(value.timestamp() * 1000)
    number = want_number(value)
    if number < 0:
        raise Invalid
    return number


def want_json(value: object, depth: int = 0) -> Any:
    """The JSON a value becomes (tuples as arrays), or ``Invalid``; nesting up to 32 levels."""
    if depth > 32:
        raise Invalid
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (int, float)):
        return want_number(value)
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise Invalid
        return {key: want_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [want_json(item, depth + 1) for item in value]
    raise Invalid


def want_mapping(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise Invalid
    result: dict[str, Any] = want_json(value)
    return result


def want_interval(value: object) -> str:
    if isinstance(value, Interval):
        return value.value
    if not isinstance(value, str) or value not in INTERVALS:
        raise Invalid
    return value


def want_reset(value: object) -> dict[str, Any]:
    if isinstance(value, BalancesCreateReset):
        wire: dict[str, Any] = {"interval": value.interval}
        if value.interval_count is not None:
            wire["interval_count"] = value.interval_count
        return wire
    if isinstance(value, str):
        return {"interval": want_interval(value)}
    if not isinstance(value, Mapping) or set(value) - {"interval", "interval_count"}:
        raise Invalid
    if "interval" not in value:
        raise Invalid
    wire = {"interval": want_interval(value["interval"])}
    count = value.get("interval_count")
    if count is not None:
        if want_number(count) <= 0:
            raise Invalid
        wire["interval_count"] = count
    return wire


def agree(*values: float | None) -> float | None:
    """The one value a set of aliases gives; differing values are a conflict."""
    given = [value for value in values if value is not None]
    if any(value != given[0] for value in given):
        raise Invalid
    return given[0] if given else None


def put(body: dict[str, Any], name: str, value: object, check: Any) -> None:
    if value is not None:
        body[name] = check(value)


def want_options(timeout: object, retries_: object) -> None:
    # A timeout is a positive finite number: never unlimited.
    is_default = timeout is NOT_GIVEN or isinstance(timeout, Timeout)
    if not is_default and want_number(timeout) <= 0:
        raise Invalid
    if not (retries_ is NOT_GIVEN or retries_ is None or isinstance(retries_, RetryConfig)):
        raise Invalid


def expect_create(a: dict[str, Any]) -> dict[str, Any]:
    body = {"customer_id": want_id(a["customer_id"]), "feature_id": want_id(a["feature_id"])}
    put(body, "entity_id", a["entity_id"], want_id)
    inc, granted, grant = (
        None if a[name] is None else want_number(a[name])
        for name in ("included", "granted_balance", "included_grant")
    )
    amount = agree(inc, granted, grant)
    if amount is not None:
        body["included_grant"] = amount  # the public name (spec §17.4)
    put(body, "unlimited", a["unlimited"], want_bool)
    if a["unlimited"] is True and agree(inc, granted, grant) is not None:
        raise Invalid
    put(body, "reset", a["reset"], want_reset)
    put(body, "expires_at", a["expires_at"], want_timestamp)
    put(body, "next_reset_at", a["next_reset_at"], want_timestamp)
    if a["next_reset_at"] is not None and a["reset"] is None:
        raise Invalid
    put(body, "balance_id", a["balance_id"], want_id)
    put(body, "rollover", a["rollover"], want_mapping)
    return body


def expect_update(a: dict[str, Any]) -> dict[str, Any]:
    body = {"customer_id": want_id(a["customer_id"]), "feature_id": want_id(a["feature_id"])}
    put(body, "entity_id", a["entity_id"], want_id)
    current, remaining, add, usage, granted, grant = (
        None if a[name] is None else want_number(a[name])
        for name in (
            "current_balance",
            "remaining",
            "add_to_balance",
            "usage",
            "granted_balance",
            "included_grant",
        )
    )
    target = agree(current, remaining)  # one setting under two names
    if target is not None and (add is not None or usage is not None):
        raise Invalid
    for name, value in (("remaining", target), ("add_to_balance", add), ("usage", usage)):
        if value is not None:
            body[name] = value  # the public names (spec §17.3)
    grant_value = agree(granted, grant)
    if grant_value is not None:
        body["included_grant"] = grant_value  # the name today's server reads
    put(body, "interval", a["interval"], want_interval)
    put(body, "customer_entitlement_id", a["customer_entitlement_id"], want_id)
    put(body, "next_reset_at", a["next_reset_at"], want_timestamp)
    put(body, "balance_id", a["balance_id"], want_id)
    put(body, "expires_at", a["expires_at"], want_timestamp)
    return body


def expect_check(a: dict[str, Any]) -> dict[str, Any]:
    body = {"customer_id": want_id(a["customer_id"]), "feature_id": want_id(a["feature_id"])}
    put(body, "entity_id", a["entity_id"], want_id)
    put(body, "required_balance", a["required_balance"], want_number)
    put(body, "properties", a["properties"], want_mapping)
    put(body, "send_event", a["send_event"], want_bool)
    put(body, "with_preview", a["with_preview"], want_bool)
    return body


def expect_track(a: dict[str, Any]) -> dict[str, Any]:
    body = {"customer_id": want_id(a["customer_id"])}
    if (a["feature_id"] is None) == (a["event_name"] is None):
        raise Invalid
    put(body, "feature_id", a["feature_id"], want_id)
    put(body, "event_name", a["event_name"], want_id)
    put(body, "value", a["value"], want_number)
    put(body, "properties", a["properties"], want_mapping)
    key = a["idempotency_key"]
    if key is not None and len(want_id(key)) > 255:
        raise Invalid
    put(body, "idempotency_key", key, want_id)
    put(body, "entity_id", a["entity_id"], want_id)
    return body


# --- the property ------------------------------------------------------------------------


def run_property(op: str, args: dict[str, Any], expect: Any) -> None:
    """Call ``op`` with ``args``; hold the result against the oracle's expectation."""
    options = {"timeout": args.pop("timeout"), "retries": args.pop("retries")}
    try:
        want_options(options["timeout"], options["retries"])
        wanted: Any = expect(dict(args))
        if _encoder_dependent(args):
            wanted = EITHER
    except Invalid:
        wanted = INVALID
    transport = MockTransport(_answer)

    async def call() -> None:
        async with AsyncAutumn(
            secret_key="am_sk_test_fuzz", server_url="https://fuzz.test", transport=transport
        ) as autumn:
            await getattr(autumn.balances, op)(**args, **options)

    try:
        asyncio.run(call())
    except UsageError as exc:
        event(f"refused {exc.field}")
        assert transport.requests == [], "a UsageError after something was sent"
        assert wanted is INVALID or wanted is EITHER, f"refused valid input: {args!r}"
        return
    assert wanted is not INVALID, f"accepted invalid input: {args!r}"
    event("sent")
    assert len(transport.requests) == 1
    request = transport.requests[0]
    body = json.loads(request.body.decode("utf-8"))  # strict: valid UTF-8 and JSON
    assert isinstance(body, dict)
    if op == "track":
        key = body.get("idempotency_key")
        assert isinstance(key, str)
        if args["idempotency_key"] is None:
            assert uuid.UUID(key).version == 4
            del body["idempotency_key"]
    mutating = op in ("create", "update") or (op == "check" and args["send_event"] is True)
    assert ("Idempotency-Key" in request.headers) is mutating
    if wanted is not EITHER:
        assert body == wanted


@FUZZ
@given(data=st.data())
def test_create_inputs(data: st.DataObject) -> None:
    """``balances.create``: valid request with the documented wire names, or UsageError."""
    run_property("create", draw_args(data, "create"), expect_create)


@FUZZ
@given(data=st.data())
def test_update_inputs(data: st.DataObject) -> None:
    """``balances.update``: conflicting pairs refused, aliases merged, or UsageError."""
    run_property("update", draw_args(data, "update"), expect_update)


@FUZZ
@given(data=st.data())
def test_check_inputs(data: st.DataObject) -> None:
    """``balances.check``: exactly the given fields, or UsageError."""
    run_property("check", draw_args(data, "check"), expect_check)


@FUZZ
@given(data=st.data())
def test_track_inputs(data: st.DataObject) -> None:
    """``balances.track``: exactly one of feature_id/event_name, always a key, or UsageError."""
    run_property("track", draw_args(data, "track"), expect_track)
