"""Features, balance rows and the pure arithmetic on them: resets, rendering, deduction order.

Amounts are ``Decimal`` throughout (JSON numbers are read through ``str``), so 0.1 + 0.2
is 0.3 here as it is in the server's decimal arithmetic. Timestamps are Unix milliseconds.
"""

from __future__ import annotations

import calendar
import datetime
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "ZERO",
    "Feature",
    "Row",
    "add_interval",
    "apply_reset",
    "deduction_key",
    "num",
    "plan_deduction",
    "render_balance",
]

ZERO = Decimal(0)
_FIXED_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}
_MONTHS = {"month": 1, "quarter": 3, "semi_annual": 6, "year": 12}
_ids = itertools.count(1)


def num(value: Decimal) -> int | float:
    """Return a JSON number: an ``int`` when integral, else the nearest float."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


@dataclass
class Feature:
    """A feature: ``metered``, ``boolean`` or ``credit_system`` (with its credit costs).

    ``consumable`` is the server's ``usage_type`` ``single_use`` (messages, API calls)
    as opposed to ``continuous_use`` (seats); entities need a non-consumable feature.
    """

    id: str
    name: str
    type: str = "metered"
    event_names: tuple[str, ...] = ()
    credit_schema: dict[str, Decimal] = field(default_factory=dict)
    consumable: bool = True

    def to_json(self) -> dict[str, Any]:
        """Return the feature as the admin routes show it."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "consumable": self.consumable,
            "event_names": list(self.event_names),
            "credit_schema": [
                {"metered_feature_id": key, "credit_cost": num(cost)}
                for key, cost in self.credit_schema.items()
            ],
        }


@dataclass
class Row:
    """One grant (a ``breakdown`` entry): what the server calls a customer entitlement."""

    customer_id: str
    feature_id: str
    entity_id: str | None = None
    id: str = ""
    included_grant: Decimal = ZERO
    prepaid_grant: Decimal = ZERO
    usage: Decimal = ZERO
    #: Set by ``update(included_grant=...)`` (``updateIncludedGrantV2.ts``): granted is
    #: allowance + adjustment, and the balance (remaining) is left alone.
    adjustment: Decimal = ZERO
    unlimited: bool = False
    interval: str | None = None
    interval_count: int = 1
    next_reset_at: int | None = None
    expires_at: int | None = None
    plan_id: str | None = None
    overage_allowed: bool = False
    max_purchase: Decimal | None = None
    price_amount: Decimal | None = None
    seq: int = field(default_factory=lambda: next(_ids))
    #: The server's own row id (``customer_entitlement_id``); ``id`` is the caller's
    #: ``balance_id`` when one was given.
    internal_id: str = ""

    def __post_init__(self) -> None:
        self.internal_id = self.internal_id or f"cus_ent_{self.seq:012d}"
        if not self.id:
            self.id = self.internal_id

    @property
    def granted(self) -> Decimal:
        """Included (allowance plus adjustment) and prepaid grant."""
        return self.included_grant + self.adjustment + self.prepaid_grant

    @property
    def remaining(self) -> Decimal:
        """Granted minus usage: the row's balance, negative in overage (rendered as 0)."""
        return self.granted - self.usage

    @property
    def paid(self) -> bool:
        """Whether the grant has a price (``isPaidCustomerEntitlement``)."""
        return self.overage_allowed or self.price_amount is not None

    @property
    def resets(self) -> bool:
        """Whether this row has a recurring reset."""
        return self.interval not in (None, "one_off")

    def expired(self, now: int) -> bool:
        """Whether the grant has expired at ``now`` (expired grants do not count)."""
        return self.expires_at is not None and now >= self.expires_at

    def reset_json(self) -> dict[str, Any]:
        """Return the ``reset`` object of the breakdown entry.

        A grant that never resets is ``{"interval": "one_off", "resets_at": null}``
        (``cusEntsToReset.ts``); ``interval_count`` is left out when it is 1.
        """
        if not self.resets:
            return {"interval": "one_off", "resets_at": None}
        reset: dict[str, Any] = {"interval": self.interval}
        if self.interval_count != 1:
            reset["interval_count"] = self.interval_count
        reset["resets_at"] = self.next_reset_at
        return reset

    def breakdown_json(self) -> dict[str, Any]:
        """Return the row as a ``Breakdown`` (spec §7.2)."""
        price = None
        if self.overage_allowed:
            price = {
                "amount": num(self.price_amount or ZERO),
                "billing_units": 1,
                "billing_method": "usage_based",
                "max_purchase": None if self.max_purchase is None else num(self.max_purchase),
            }
        return {
            "id": self.id,
            "plan_id": self.plan_id,
            "included_grant": 0 if self.unlimited else num(self.included_grant + self.adjustment),
            "prepaid_grant": num(self.prepaid_grant),
            # cusEntsToCurrentBalance.ts clamps the balance at 0; usage is not clamped
            # (remaining set above the grant gives a negative usage).
            "remaining": 0 if self.unlimited else num(max(self.remaining, ZERO)),
            "usage": num(self.usage),
            "unlimited": self.unlimited,
            "reset": self.reset_json(),
            "price": price,
            "expires_at": self.expires_at,
        }


def add_interval(at_ms: int, interval: str, count: int = 1) -> int:
    """Return ``at_ms`` moved forward by ``count`` intervals (calendar months for months)."""
    if interval in _FIXED_MS:
        return at_ms + _FIXED_MS[interval] * count
    months = _MONTHS[interval] * count
    moment = datetime.datetime.fromtimestamp(at_ms / 1000, tz=datetime.timezone.utc)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    moved = moment.replace(year=year, month=month, day=day)
    return round(moved.timestamp() * 1000)


def apply_reset(row: Row, now: int) -> None:
    """Reset the row lazily: once ``now`` reaches ``next_reset_at``, usage goes back to 0."""
    if not row.resets or row.next_reset_at is None or now < row.next_reset_at:
        return
    assert row.interval is not None
    row.usage = ZERO
    step = _FIXED_MS.get(row.interval)
    if step is not None:
        period = step * row.interval_count
        row.next_reset_at += ((now - row.next_reset_at) // period + 1) * period
        return
    while row.next_reset_at <= now:
        row.next_reset_at = add_interval(row.next_reset_at, row.interval, row.interval_count)


def _interval_length(row: Row) -> int:
    if not row.resets:
        return 2**62
    assert row.interval is not None
    unit = _FIXED_MS.get(row.interval) or _MONTHS[row.interval] * 30 * 86_400_000
    return unit * row.interval_count


def deduction_key(row: Row, entity_id: str | None, credit_rank: int) -> tuple[int, ...]:
    """Sort key of the server's deduction order (spec §9.3)."""
    own_scope = row.entity_id == entity_id if entity_id else row.entity_id is None
    return (
        0 if own_scope else 1,
        credit_rank,
        0 if row.unlimited else 1,
        0 if row.resets else 1,
        _interval_length(row),
        row.expires_at if row.expires_at is not None else 2**62,
        1 if row.overage_allowed else 0,
        row.seq,
    )


def _unlimited_balance(feature_id: str, rows: Sequence[Row]) -> dict[str, Any]:
    """An unlimited balance: one synthetic breakdown row (``apiBalanceUtils.ts``)."""
    usage = num(sum((row.usage for row in rows if row.unlimited), ZERO))
    first = rows[0]
    return {
        "feature_id": feature_id,
        "granted": 0,
        "remaining": 0,
        "usage": usage,
        "unlimited": True,
        "overage_allowed": False,
        "max_purchase": None,
        "next_reset_at": None,
        "breakdown": [
            {
                "id": first.id,
                "plan_id": first.plan_id,
                "included_grant": 0,
                "prepaid_grant": 0,
                "remaining": 0,
                "usage": usage,
                "unlimited": True,
                "reset": None,
                "price": None,
                "expires_at": None,
            }
        ],
    }


def render_balance(feature_id: str, rows: Sequence[Row]) -> dict[str, Any]:
    """Aggregate rows of one feature into a ``Balance`` (spec §7.1, §17.6)."""
    if any(row.unlimited for row in rows):
        return _unlimited_balance(feature_id, rows)
    overage_rows = [row for row in rows if row.overage_allowed]
    max_purchase: Decimal | None = None
    if overage_rows and all(row.max_purchase is not None for row in overage_rows):
        max_purchase = sum((row.max_purchase or ZERO for row in overage_rows), ZERO)
    resets = [row.next_reset_at for row in rows if row.next_reset_at is not None]
    return {
        "feature_id": feature_id,
        "granted": num(sum((row.granted for row in rows), ZERO)),
        "remaining": num(sum((max(row.remaining, ZERO) for row in rows), ZERO)),
        "usage": num(sum((row.usage for row in rows), ZERO)),
        "unlimited": False,
        "overage_allowed": bool(overage_rows),
        "max_purchase": None if max_purchase is None else num(max_purchase),
        "next_reset_at": min(resets) if resets else None,
        "breakdown": [row.breakdown_json() for row in rows],
    }


def plan_deduction(
    targets: Iterable[tuple[Row, Decimal]], amount: Decimal, *, force: bool = False
) -> tuple[dict[int, Decimal], Decimal]:
    """Plan how ``amount`` (in the tracked feature's units) spreads over ordered rows.

    Each target is a row with its cost factor (1, or the credit cost for a credit system).
    Returns the usage change per row (by ``id()``) and the amount left over (not applied).
    Pass 1 takes rows down to zero, pass 2 lets overage rows go negative up to
    ``max_purchase``; a refund gives usage back up to the grant. ``force`` (update's
    "set the balance" path) puts whatever is left on the first finite row.
    """
    ordered = list(targets)
    changes: dict[int, Decimal] = {}
    left = abs(amount)
    sign = 1 if amount > 0 else -1

    def usage_of(row: Row) -> Decimal:
        return row.usage + changes.get(id(row), ZERO)

    def take(row: Row, factor: Decimal, room: Decimal | None) -> None:
        nonlocal left
        units = left if room is None else min(left, max(room, ZERO) / factor)
        if units > 0:
            changes[id(row)] = changes.get(id(row), ZERO) + sign * units * factor
            left -= units

    for row, factor in ordered:
        if left <= 0:
            break
        if sign > 0:
            take(row, factor, None if row.unlimited else row.granted - usage_of(row))
        else:
            take(row, factor, usage_of(row))
    if sign > 0:
        for row, factor in ordered:
            if left > 0 and row.overage_allowed and not row.unlimited:
                cap = None
                if row.max_purchase is not None:
                    overage = max(usage_of(row) - row.granted, ZERO)
                    cap = row.max_purchase - overage
                take(row, factor, cap)
    if force and left > 0:
        finite = [(row, factor) for row, factor in ordered if not row.unlimited]
        if finite:
            take(finite[0][0], finite[0][1], None)
    return changes, sign * left
