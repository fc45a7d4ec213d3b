"""Request bodies: check every argument, then build the JSON the server reads.

Pure functions, run before anything is sent: a bad argument is a ``UsageError`` naming
the field. The documented (2.1) parameter names stay public; on the wire the SDK sends
the public names of today's schema (``included_grant``, ``remaining``) rather than the
ones the server marks ``internal: true`` (``granted_balance``, ``current_balance``):
every API version the SDK supports (2.1 to 2.5) reads them, since no request transform
touches these operations (spec §17.1, §17.3, §17.4).
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Mapping
from typing import Any

from ._checks import MAX_SAFE_INTEGER, check_event_size, finite_number
from ._checks import check_id as _check_id
from ._config import MAX_EVENT_BYTES, MAX_ID_LENGTH
from ._errors import UsageError

__all__ = [
    "CREATE_AMOUNT_HINT",
    "build_check",
    "build_create",
    "build_track",
    "build_update",
    "check_id",
    "check_idempotency_key",
    "check_json_object",
    "create_without_amount",
]

#: ``overage_behavior`` values of ``balances.track`` (server ``OverageBehaviorSchema``;
#: its third value, ``reject``, is marked internal).
OVERAGE_BEHAVIORS = ("cap", "overflow")

#: Longest idempotency key accepted (Autumn stores a hash of it; 255 keeps logs sane).
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def check_id(value: object, field: str) -> str:
    """A required identifier: a non-blank string of at most ``MAX_ID_LENGTH`` characters
    without control characters."""
    return _check_id(value, field, max_length=MAX_ID_LENGTH)


def check_idempotency_key(value: object, *, header: bool = False) -> str:
    """A caller's idempotency key: a non-blank string of at most 255 characters.

    A key sent as the ``Idempotency-Key`` header (``header=True``) must be visible ASCII
    (no whitespace, control or non-ASCII characters, which a header cannot carry safely).
    """
    key = check_id(value, "idempotency_key")
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise UsageError(
            f"idempotency_key must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
            field="idempotency_key",
        )
    if header and not all("!" <= ch <= "~" for ch in key):
        raise UsageError(
            "idempotency_key must be visible ASCII (no whitespace or control characters)",
            field="idempotency_key",
        )
    return key


def _opt_id(body: dict[str, Any], field: str, value: object) -> None:
    if value is not None:
        body[field] = check_id(value, field)


def _opt_bool(body: dict[str, Any], field: str, value: object) -> None:
    if value is not None:
        if not isinstance(value, bool):
            raise UsageError(f"{field} must be a bool, got {type(value).__name__}", field=field)
        body[field] = value


def _unix_ms(value: object, field: str, *, whole: bool = False) -> float:
    """The one rule for every time field: Unix milliseconds (a finite number; ``whole``:
    an integral one) or an aware ``datetime`` (whole milliseconds), not before 1970."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise UsageError(
                f"{field} must be timezone-aware (a naive datetime is ambiguous)", field=field
            )
        ms: float = int(value.timestamp() * 1000)
    else:
        ms = finite_number(value, field)
        if whole and ms != int(ms):
            raise UsageError(f"{field} must be whole Unix milliseconds, got {value!r}", field=field)
    if ms < 0:
        raise UsageError(
            f"{field} must not be before 1970-01-01 UTC (Unix milliseconds >= 0), got {value!r}",
            field=field,
        )
    return ms


def _opt_timestamp(body: dict[str, Any], field: str, value: object) -> None:
    if value is not None:
        body[field] = _unix_ms(value, field)


def _properties(body: dict[str, Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise UsageError(
            f"properties must be a mapping, got {type(value).__name__}", field="properties"
        )
    _check_json(value, "properties", depth=0)
    body["properties"] = dict(value)


def check_json_object(value: object, field: str) -> dict[str, Any]:
    """A mapping of JSON values (``metadata``, ``billing_controls``, ...) as a new dict."""
    if not isinstance(value, Mapping):
        raise UsageError(f"{field} must be a mapping, got {type(value).__name__}", field=field)
    _check_json(value, field, depth=0, field=field)
    return dict(value)


def _check_json(value: object, path: str, depth: int, field: str = "properties") -> None:
    if depth > 32:
        raise UsageError(f"{path} is nested too deeply (over 32 levels)", field=field)
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise UsageError(
                f"{path} is too large: Autumn reads numbers as doubles, exact only up to "
                "2**53 - 1 in magnitude",
                field=field,
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"{path} must be a finite number, got {value!r}", field=field)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UsageError(
                    f"{path} has a non-string key {key!r}; JSON keys are strings",
                    field=field,
                )
            _check_json(item, f"{path}.{key}", depth + 1, field)
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]", depth + 1, field)
        return
    raise UsageError(
        f"{path} is a {type(value).__name__}, which is not JSON-serialisable", field=field
    )


def _same_or_conflict(a_name: str, a: float | None, b_name: str, b: float | None) -> None:
    if a is not None and b is not None and a != b:
        raise UsageError(
            f"{a_name}={a!r} conflicts with {b_name}={b!r}; give one of them", field=a_name
        )


#: Added to Autumn's bare ``input: Invalid input`` (500 ``invalid_inputs``) when a create
#: named no amount: the SDK cannot know the feature's type, so it does not refuse first.
CREATE_AMOUNT_HINT = (
    "balances.create sent no amount: a metered feature needs included (or included_grant) "
    "or unlimited=True; a boolean feature takes neither, a credit system may take none"
)


def create_without_amount(body: Mapping[str, Any]) -> bool:
    """Whether a create body names neither an amount nor ``unlimited``."""
    return "included_grant" not in body and "unlimited" not in body


def build_create(
    *,
    customer_id: object,
    feature_id: object,
    entity_id: object,
    included: object,
    unlimited: object,
    reset: object,
    expires_at: object,
    granted_balance: object,
    included_grant: object,
    balance_id: object,
    rollover: object,
    next_reset_at: object,
) -> dict[str, Any]:
    """Body of ``balances.create``; ``included`` and ``granted_balance`` go on the wire as
    ``included_grant``, the public name (``createBalanceParamsV0ToPlanItemV0.ts``)."""
    from ._request_models import coerce_reset  # noqa: PLC0415 (models import attrs classes lazily)

    body: dict[str, Any] = {
        "customer_id": check_id(customer_id, "customer_id"),
        "feature_id": check_id(feature_id, "feature_id"),
    }
    _opt_id(body, "entity_id", entity_id)
    inc = None if included is None else finite_number(included, "included")
    granted = None if granted_balance is None else finite_number(granted_balance, "granted_balance")
    grant = None if included_grant is None else finite_number(included_grant, "included_grant")
    _same_or_conflict("included", inc, "granted_balance", granted)
    _same_or_conflict("included", inc, "included_grant", grant)
    _same_or_conflict("granted_balance", granted, "included_grant", grant)
    # The server ignores ``included`` and marks ``granted_balance`` internal.
    amount = next((a for a in (grant, inc, granted) if a is not None), None)
    if amount is not None:
        body["included_grant"] = amount
    _opt_bool(body, "unlimited", unlimited)
    if reset is not None:
        model = coerce_reset(reset, field="reset")  # type: ignore[arg-type]
        wire_reset: dict[str, Any] = {"interval": str(model.interval)}
        if model.interval_count is not None:
            wire_reset["interval_count"] = model.interval_count
        body["reset"] = wire_reset
    _opt_timestamp(body, "expires_at", expires_at)
    _opt_timestamp(body, "next_reset_at", next_reset_at)
    if next_reset_at is not None and reset is None:
        raise UsageError("next_reset_at needs reset (a recurring interval)", field="next_reset_at")
    _opt_id(body, "balance_id", balance_id)
    if rollover is not None:
        if not isinstance(rollover, Mapping):
            raise UsageError("rollover must be a mapping", field="rollover")
        _check_json(rollover, "rollover", depth=0)
        body["rollover"] = dict(rollover)
    if unlimited is True and (inc is not None or granted is not None or grant is not None):
        raise UsageError(
            "unlimited=True cannot be combined with an amount (included)", field="unlimited"
        )
    return body


def build_update(
    *,
    customer_id: object,
    feature_id: object,
    entity_id: object,
    current_balance: object,
    interval: object,
    granted_balance: object,
    usage: object,
    customer_entitlement_id: object,
    next_reset_at: object,
    add_to_balance: object,
    remaining: object,
    included_grant: object,
    balance_id: object,
    expires_at: object,
) -> dict[str, Any]:
    """Body of ``balances.update``.

    ``current_balance`` and ``remaining`` are one setting, sent as ``remaining`` (the
    public name; ``current_balance`` is its internal alias). ``granted_balance``, which
    today's server no longer reads, is sent as ``included_grant``.
    """
    from ._request_models import coerce_interval  # noqa: PLC0415

    body: dict[str, Any] = {
        "customer_id": check_id(customer_id, "customer_id"),
        "feature_id": check_id(feature_id, "feature_id"),
    }
    _opt_id(body, "entity_id", entity_id)
    current = None if current_balance is None else finite_number(current_balance, "current_balance")
    rem = None if remaining is None else finite_number(remaining, "remaining")
    add = None if add_to_balance is None else finite_number(add_to_balance, "add_to_balance")
    use = None if usage is None else finite_number(usage, "usage")
    _same_or_conflict("current_balance", current, "remaining", rem)
    target = current if current is not None else rem
    if target is not None and add is not None:
        raise UsageError(
            "current_balance (remaining) and add_to_balance cannot be combined: set the "
            "balance or add to it",
            field="add_to_balance",
        )
    if target is not None and use is not None:
        raise UsageError("usage cannot be combined with current_balance (remaining)", field="usage")
    if target is not None:
        body["remaining"] = target
    if add is not None:
        body["add_to_balance"] = add
    if use is not None:
        body["usage"] = use
    granted = None if granted_balance is None else finite_number(granted_balance, "granted_balance")
    grant = None if included_grant is None else finite_number(included_grant, "included_grant")
    _same_or_conflict("granted_balance", granted, "included_grant", grant)
    if granted is not None or grant is not None:
        body["included_grant"] = grant if grant is not None else granted
    if interval is not None:
        body["interval"] = coerce_interval(interval, field="interval")  # type: ignore[arg-type]
    _opt_id(body, "customer_entitlement_id", customer_entitlement_id)
    _opt_timestamp(body, "next_reset_at", next_reset_at)
    _opt_id(body, "balance_id", balance_id)
    _opt_timestamp(body, "expires_at", expires_at)
    return body


def build_check(
    *,
    customer_id: object,
    feature_id: object,
    entity_id: object,
    required_balance: object,
    properties: object,
    send_event: object,
    with_preview: object,
) -> dict[str, Any]:
    """Body of ``balances.check`` (``required_balance`` defaults to 1 on the server)."""
    body: dict[str, Any] = {
        "customer_id": check_id(customer_id, "customer_id"),
        "feature_id": check_id(feature_id, "feature_id"),
    }
    if entity_id is not None:
        body["entity_id"] = check_id(entity_id, "entity_id")
    if required_balance is not None:
        body["required_balance"] = finite_number(required_balance, "required_balance")
    _properties(body, properties)
    _opt_bool(body, "send_event", send_event)
    _opt_bool(body, "with_preview", with_preview)
    return body


def build_track(
    *,
    customer_id: object,
    feature_id: object,
    event_name: object,
    value: object,
    properties: object,
    idempotency_key: object,
    entity_id: object,
    timestamp: object = None,
    overage_behavior: object = None,
) -> dict[str, Any]:
    """Body of ``balances.track``: exactly one of ``feature_id`` / ``event_name``.

    ``timestamp`` (when the usage happened: Unix ms or an aware ``datetime``, positive and
    not in the future) and ``overage_behavior`` (``"cap"`` or ``"overflow"``) are read by
    today's server (``shared/api/balances/track/trackParams.ts``).
    """
    body: dict[str, Any] = {"customer_id": check_id(customer_id, "customer_id")}
    if feature_id is None and event_name is None:
        raise UsageError(
            "track needs feature_id (the feature to deduct from) or event_name (an event "
            "that features listen to); neither was given",
            field="feature_id",
        )
    if feature_id is not None and event_name is not None:
        raise UsageError(
            "give exactly one of feature_id or event_name (both were given)", field="feature_id"
        )
    if feature_id is not None:
        body["feature_id"] = check_id(feature_id, "feature_id")
    else:
        body["event_name"] = check_id(event_name, "event_name")
    if value is not None:
        body["value"] = finite_number(value, "value")
    _properties(body, properties)
    if idempotency_key is not None:
        body["idempotency_key"] = check_idempotency_key(idempotency_key)
    _opt_id(body, "entity_id", entity_id)
    if timestamp is not None:
        body["timestamp"] = _event_time(timestamp)
    if overage_behavior is not None:
        if overage_behavior not in OVERAGE_BEHAVIORS:
            raise UsageError(
                f"overage_behavior must be 'cap' or 'overflow', got {overage_behavior!r}",
                field="overage_behavior",
            )
        body["overage_behavior"] = overage_behavior
    if properties is not None:
        check_event_size(body, limit=MAX_EVENT_BYTES)
    return body


def _event_time(value: object) -> int:
    """A usage event's time as the server takes it: :func:`_unix_ms`, whole, > 0 and not
    in the future."""
    ms = int(_unix_ms(value, "timestamp", whole=True))
    if ms == 0:
        raise UsageError(
            f"timestamp must be positive Unix milliseconds, got {value!r}", field="timestamp"
        )
    if ms > time.time() * 1000:
        raise UsageError(
            "timestamp is in the future; Autumn refuses usage recorded ahead of its clock",
            field="timestamp",
        )
    return ms
