"""Parsed, validated request bodies of the balance routes (spec §2.1, §3.1, §4.1, §5.1, §13)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ._validation import INTERVALS, Checker, raise_errors

__all__ = [
    "MAX_BATCH",
    "CheckParams",
    "CreateParams",
    "TrackParams",
    "UpdateParams",
    "parse_batch",
    "parse_check",
    "parse_create",
    "parse_track",
    "parse_update",
]

MAX_BATCH = 1000


@dataclass(frozen=True)
class CreateParams:
    """``balances.create``; ``grant`` is ``included_grant`` or else ``granted_balance``."""

    customer_id: str
    feature_id: str
    entity_id: str | None = None
    grant: Decimal | None = None
    unlimited: bool | None = None
    interval: str | None = None
    interval_count: Decimal | None = None
    expires_at: Decimal | None = None
    balance_id: str | None = None
    next_reset_at: Decimal | None = None


@dataclass(frozen=True)
class UpdateParams:
    """``balances.update``; ``remaining`` is ``remaining`` or its alias ``current_balance``."""

    customer_id: str
    feature_id: str
    entity_id: str | None = None
    remaining: Decimal | None = None
    add_to_balance: Decimal | None = None
    included_grant: Decimal | None = None
    usage: Decimal | None = None
    interval: str | None = None
    balance_id: str | None = None
    next_reset_at: Decimal | None = None
    expires_at: Decimal | None = None
    customer_entitlement_id: str | None = None


@dataclass(frozen=True)
class CheckParams:
    """``balances.check``; ``required_balance`` defaults to 1 (``required_quantity`` alias)."""

    customer_id: str
    feature_id: str
    entity_id: str | None = None
    required_balance: Decimal = Decimal(1)
    properties: dict[str, Any] | None = None
    send_event: bool = False
    with_preview: bool = False


@dataclass(frozen=True)
class TrackParams:
    """``balances.track`` (and one item of ``balances.batch_track``)."""

    customer_id: str
    feature_id: str | None = None
    event_name: str | None = None
    entity_id: str | None = None
    value: Decimal = Decimal(1)
    properties: dict[str, Any] | None = None
    idempotency_key: str | None = None
    #: ``cap`` (default), ``overflow`` (deduct all of it, past the limits) or the
    #: internal ``reject`` (``shared/api/balances/track/overageBehavior.ts``).
    overage_behavior: str = "cap"
    #: When the usage happened, Unix ms (``trackTimestamp.ts``); ``None``: now.
    timestamp: int | None = None
    #: ``async`` as sent; ``None`` means the version's default (spec §17.1).
    queue: bool | None = None


def parse_create(body: object) -> CreateParams:
    """Validate a create body; the create refinements (§2.1) run later, in the state."""
    c = Checker(body)
    customer_id = c.string("customer_id", required=True)
    feature_id = c.string("feature_id", required=True)
    entity_id = c.string("entity_id")
    included_grant = c.number("included_grant")
    granted_balance = c.number("granted_balance")
    unlimited = c.boolean("unlimited")
    interval = interval_count = None
    reset = c.nested("reset")
    if reset is not None:
        interval = reset.choice("interval", INTERVALS, required=True)
        interval_count = reset.number("interval_count")
    expires_at = c.number("expires_at")
    balance_id = c.string("balance_id")
    next_reset_at = c.number("next_reset_at")
    c.mapping("rollover")
    c.done()
    assert customer_id is not None
    assert feature_id is not None
    return CreateParams(
        customer_id=customer_id,
        feature_id=feature_id,
        entity_id=entity_id,
        grant=included_grant if included_grant is not None else granted_balance,
        unlimited=unlimited,
        interval=interval,
        interval_count=interval_count,
        expires_at=expires_at,
        balance_id=balance_id,
        next_reset_at=next_reset_at,
    )


def parse_update(body: object) -> UpdateParams:
    """Validate an update body (conflicting pairs pass, as on the server)."""
    c = Checker(body)
    customer_id = c.string("customer_id", required=True)
    feature_id = c.string("feature_id", required=True)
    entity_id = c.string("entity_id")
    current_balance = c.number("current_balance")
    remaining = c.number("remaining")
    add_to_balance = c.number("add_to_balance")
    included_grant = c.number("included_grant")
    usage = c.number("usage")
    interval = c.choice("interval", INTERVALS)
    balance_id = c.string("balance_id")
    next_reset_at = c.number("next_reset_at")
    expires_at = c.number("expires_at")
    customer_entitlement_id = c.string("customer_entitlement_id")
    # handleUpdateBalance.ts validates with UpdateBalanceParamsV0Schema.extend({}), which
    # drops the schema's refinements: conflicting pairs are not refused (spec §17.3).
    target = remaining if remaining is not None else current_balance
    c.done()
    assert customer_id is not None
    assert feature_id is not None
    return UpdateParams(
        customer_id=customer_id,
        feature_id=feature_id,
        entity_id=entity_id,
        remaining=target,
        add_to_balance=add_to_balance,
        included_grant=included_grant,
        usage=usage,
        interval=interval,
        balance_id=balance_id,
        next_reset_at=next_reset_at,
        expires_at=expires_at,
        customer_entitlement_id=customer_entitlement_id,
    )


def parse_check(body: object) -> CheckParams:
    """Validate a check body."""
    c = Checker(body)
    customer_id = c.string("customer_id", required=True)
    feature_id = c.string("feature_id", required=True)
    entity_id = c.string("entity_id")
    required = c.number("required_balance")
    if required is None:
        required = c.number("required_quantity")
    properties = c.mapping("properties")
    send_event = c.boolean("send_event")
    with_preview = c.boolean("with_preview")
    c.done()
    assert customer_id is not None
    assert feature_id is not None
    return CheckParams(
        customer_id=customer_id,
        feature_id=feature_id,
        entity_id=entity_id,
        required_balance=Decimal(1) if required is None else required,
        properties=properties,
        send_event=bool(send_event),
        with_preview=bool(with_preview),
    )


#: ``Number.MAX_SAFE_INTEGER``: zod's ``.safe()`` bound for the timestamp.
_MAX_SAFE_INTEGER = 2**53 - 1


def _track_timestamp(c: Checker, now_ms: int) -> int | None:
    # trackTimestamp.ts: UnixMsTimestampSchema (int, safe, >= 0) .positive(), refined to
    # "timestamp cannot be in the future".
    value = c.number("timestamp")
    if value is None:
        return None
    field = f"{c.path}timestamp"
    if value != value.to_integral_value():
        c.problem(f"{field}: must be an integer (received {value})")
    elif value <= 0:
        c.problem(f"{field}: must be greater than 0")
    elif value > _MAX_SAFE_INTEGER:
        c.problem(f"{field}: must be a safe integer")
    elif value > now_ms:
        c.problem(f"{field}: timestamp cannot be in the future")
    else:
        return int(value)
    return None


def _track_fields(c: Checker, now_ms: int) -> TrackParams | None:
    customer_id = c.string("customer_id", required=True)
    feature_id = c.string("feature_id")
    event_name = c.string("event_name")
    entity_id = c.string("entity_id")
    value = c.number("value")
    properties = c.mapping("properties")
    idempotency_key = c.string("idempotency_key")
    overage = c.choice("overage_behavior", ("cap", "overflow", "reject"))
    timestamp = _track_timestamp(c, now_ms)
    queue = c.boolean("async")
    has_feature = c.body.get("feature_id") is not None
    if has_feature == (c.body.get("event_name") is not None):
        prefix = f"{c.path[:-1]}: " if c.path else ""
        c.problem(f"{prefix}Either feature_id or event_name must be provided")
    if customer_id is None or (feature_id is None and event_name is None):
        return None
    return TrackParams(
        customer_id=customer_id,
        feature_id=feature_id,
        event_name=event_name,
        entity_id=entity_id,
        value=Decimal(1) if value is None else value,
        properties=properties,
        idempotency_key=idempotency_key,
        overage_behavior=overage or "cap",
        timestamp=timestamp,
        queue=queue,
    )


def parse_track(body: object, now_ms: int) -> TrackParams:
    """Validate a track body: exactly one of ``feature_id`` / ``event_name``; a
    ``timestamp`` is checked against ``now_ms`` (the emulator's clock)."""
    c = Checker(body)
    params = _track_fields(c, now_ms)
    c.done()
    assert params is not None
    return params


def parse_batch(body: object, now_ms: int) -> list[TrackParams]:
    """Validate a batch body: a JSON array of 1 to 1000 track objects, all or nothing."""
    if not isinstance(body, list):
        kind = "object" if isinstance(body, dict) else type(body).__name__
        raise_errors([f"input: must be an array (received {kind})"])
        raise AssertionError  # pragma: no cover - raise_errors raised
    if not body or len(body) > MAX_BATCH:
        raise_errors([f"input: must contain between 1 and {MAX_BATCH} items"])
    errors: list[str] = []
    items = [
        _track_fields(Checker(item, f"{index}.", errors), now_ms) for index, item in enumerate(body)
    ]
    raise_errors(errors)
    return [item for item in items if item is not None]
