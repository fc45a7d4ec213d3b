"""The emulator's data: features, customers and entities, balance rows, the ledger.

Plain Python with no aiohttp: every rule can be unit-tested by calling methods. Lookups
raise :class:`ApiError` with the server's codes; reads apply resets lazily and leave
expired grants out, as the server does when it loads a customer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ._api_errors import (
    ApiError,
    customer_not_found,
    entity_not_found,
    feature_not_found,
    invalid_inputs,
)
from ._balance_rows import (
    ZERO,
    Feature,
    Row,
    add_interval,
    apply_reset,
    deduction_key,
    render_balance,
)
from ._idempotency import IdempotencyStore
from ._validation import INTERVALS, Checker

__all__ = ["FEATURE_TYPES", "Customer", "EntityRecord", "Store"]

FEATURE_TYPES = ("metered", "boolean", "credit_system")


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class EntityRecord:
    """What ``entities.create`` stored about an entity (seeded entities have none)."""

    name: str | None
    feature_id: str
    created_at: int
    billing_controls: dict[str, Any] | None = None


@dataclass
class Customer:
    """A customer, its entities (by id) and the details ``customers.*`` set."""

    id: str
    name: str | None
    created_at: int
    entities: dict[str, EntityRecord | None] = field(default_factory=dict)
    email: str | None = None
    fingerprint: str | None = None
    stripe_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    send_email_receipts: bool = False
    currency: str | None = None
    billing_controls: dict[str, Any] | None = None
    config: dict[str, Any] | None = None


class Store:
    """All emulator state, read through an injectable millisecond clock."""

    def __init__(
        self,
        clock: Callable[[], int] | None = None,
        *,
        auto_create_customers: bool = False,
    ) -> None:
        self._clock = clock or _wall_clock_ms
        self.offset_ms = 0
        self.auto_create_customers = auto_create_customers
        self.features: dict[str, Feature] = {}
        self.customers: dict[str, Customer] = {}
        self.rows: list[Row] = []
        self.ledger: list[dict[str, Any]] = []
        #: Queued events the worker dropped without telling anyone (``/_emulator/dropped``).
        self.dropped: list[dict[str, Any]] = []
        self.idempotency = IdempotencyStore(self.now)

    def now(self) -> int:
        """Current time in Unix milliseconds (the injected clock plus any advance)."""
        return int(self._clock()) + self.offset_ms

    def advance(self, ms: int) -> None:
        """Move the emulator's clock forward (for resets, expiry and key TTLs)."""
        self.offset_ms += ms

    def clear(self) -> None:
        """Forget everything: features, customers, balances, ledger, idempotency keys."""
        self.features.clear()
        self.customers.clear()
        self.rows.clear()
        self.ledger.clear()
        self.dropped.clear()
        self.idempotency.clear()
        self.offset_ms = 0

    # -- features and customers ------------------------------------------------------------

    def add_feature(self, body: Mapping[str, Any]) -> Feature:
        """Define (or redefine) a feature from an admin body; raise 400 if malformed."""
        c = Checker(body)
        feature_id = c.string("id", required=True)
        name = c.string("name")
        kind = c.choice("type", FEATURE_TYPES) or "metered"
        consumable = c.boolean("consumable")
        names = body.get("event_names") or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            c.problem("event_names: must be an array of strings")
            names = []
        schema: dict[str, Decimal] = {}
        entries = body.get("credit_schema") or []
        if not isinstance(entries, list):
            c.problem("credit_schema: must be an array")
            entries = []
        for index, entry in enumerate(entries):
            item = Checker(entry, f"credit_schema.{index}.", c.errors)
            metered = item.string("metered_feature_id", required=True)
            cost = item.number("credit_cost", required=True)
            if metered is not None and cost is not None:
                schema[metered] = cost
        c.done()
        assert feature_id is not None
        if consumable is None:
            consumable = kind != "boolean"
        feature = Feature(feature_id, name or feature_id, kind, tuple(names), schema, consumable)
        self.features[feature_id] = feature
        return feature

    def add_customer(
        self, customer_id: str, name: str | None = None, entities: Iterable[str] = ()
    ) -> Customer:
        """Get or create a customer and register its entities."""
        customer = self.customers.get(customer_id)
        if customer is None:
            customer = Customer(customer_id, name, self.now())
            self.customers[customer_id] = customer
        elif name is not None and customer.name is None:
            customer.name = name
        for entity_id in entities:
            customer.entities.setdefault(entity_id, None)  # keep what entities.create stored
        return customer

    def feature(self, feature_id: str) -> Feature:
        """Return the feature or raise 404 ``feature_not_found``."""
        feature = self.features.get(feature_id)
        if feature is None:
            raise feature_not_found(feature_id)
        return feature

    def customer(
        self, customer_id: str, entity_id: str | None = None, *, auto_create: bool = False
    ) -> Customer:
        """Return the customer (and check the entity) or raise 404; optionally create them."""
        customer = self.customers.get(customer_id)
        if customer is None:
            if not auto_create:
                raise customer_not_found(customer_id)
            customer = self.add_customer(customer_id)
        if entity_id is not None and entity_id not in customer.entities:
            if not auto_create:
                raise entity_not_found(entity_id)
            customer.entities[entity_id] = None
        return customer

    def credit_systems(self, feature_id: str) -> list[Feature]:
        """Credit systems whose schema lists ``feature_id``, in definition order."""
        return [
            f
            for f in self.features.values()
            if f.type == "credit_system" and feature_id in f.credit_schema
        ]

    # -- balance rows ----------------------------------------------------------------------

    def view(self, customer_id: str, entity_id: str | None, feature_id: str) -> list[Row]:
        """Live rows of one feature visible from the customer or entity, in deduction order.

        From an entity: its own rows first, then the customer-level ones. From the
        customer: customer-level rows first, then every entity's rows.
        """
        now = self.now()
        rows = []
        for row in self.rows:
            if row.customer_id != customer_id or row.feature_id != feature_id:
                continue
            if entity_id is not None and row.entity_id not in (None, entity_id):
                continue
            if row.expired(now):
                continue
            apply_reset(row, now)
            rows.append(row)
        rows.sort(key=lambda row: deduction_key(row, entity_id, 0))
        return rows

    def targets(
        self, feature: Feature, customer_id: str, entity_id: str | None
    ) -> list[tuple[Row, Decimal]]:
        """Rows a usage of ``feature`` draws on, with cost factors, in deduction order."""
        ranked: list[tuple[tuple[int, ...], Row, Decimal]] = []
        sources = [(feature, Decimal(1))]
        sources += [(cs, cs.credit_schema[feature.id]) for cs in self.credit_systems(feature.id)]
        for rank, (source, factor) in enumerate(sources):
            for row in self.view(customer_id, entity_id, source.id):
                ranked.append((deduction_key(row, entity_id, rank), row, factor))
        ranked.sort(key=lambda item: item[0])
        return [(row, factor) for _, row, factor in ranked]

    def balance(
        self, customer_id: str, entity_id: str | None, feature_id: str
    ) -> dict[str, Any] | None:
        """The rendered ``Balance`` of one feature, or ``None`` without rows."""
        rows = self.view(customer_id, entity_id, feature_id)
        return render_balance(feature_id, rows) if rows else None

    def balances(self, customer_id: str, entity_id: str | None = None) -> dict[str, Any]:
        """Every non-boolean balance visible from the customer or entity, by feature id."""
        result = {}
        for feature in self.features.values():
            if feature.type == "boolean":
                continue
            balance = self.balance(customer_id, entity_id, feature.id)
            if balance is not None:
                result[feature.id] = balance
        return result

    def customer_json(self, customer: Customer, env: str) -> dict[str, Any]:
        """A small customer object, as ``POST /v1/customers`` answers it."""
        return {
            "id": customer.id,
            "name": customer.name,
            "email": None,
            "created_at": customer.created_at,
            "env": env,
            "entities": [{"id": entity_id} for entity_id in customer.entities],
            "balances": self.balances(customer.id),
        }

    def seed_balance(self, body: Mapping[str, Any]) -> Row:
        """Add a grant directly (admin), including plan-like options create cannot set.

        Beyond create's fields this accepts ``usage``, ``prepaid_grant``, ``plan_id``,
        ``overage_allowed``, ``max_purchase`` and ``price_amount`` (a usage-based price).
        """
        c = Checker(body)
        customer_id = c.string("customer_id", required=True)
        feature_id = c.string("feature_id", required=True)
        entity_id = c.string("entity_id")
        numbers = {
            name: c.number(name)
            for name in (
                "included_grant",
                "prepaid_grant",
                "usage",
                "max_purchase",
                "price_amount",
                "interval_count",
                "next_reset_at",
                "expires_at",
            )
        }
        interval = c.choice("interval", INTERVALS)
        flags = {name: c.boolean(name) for name in ("unlimited", "overage_allowed")}
        plan_id, balance_id = c.string("plan_id"), c.string("balance_id")
        c.done()
        assert customer_id is not None
        assert feature_id is not None
        self.feature(feature_id)
        self.add_customer(customer_id, entities=[entity_id] if entity_id else [])
        count = int(numbers["interval_count"] or 1)
        if count < 1:
            raise invalid_inputs("interval_count: must be at least 1")
        row = Row(
            customer_id=customer_id,
            feature_id=feature_id,
            entity_id=entity_id,
            id=balance_id or "",
            included_grant=numbers["included_grant"] or ZERO,
            prepaid_grant=numbers["prepaid_grant"] or ZERO,
            usage=numbers["usage"] or ZERO,
            unlimited=bool(flags["unlimited"]),
            interval=interval,
            interval_count=count,
            plan_id=plan_id,
            overage_allowed=bool(flags["overage_allowed"]),
            max_purchase=numbers["max_purchase"],
            price_amount=numbers["price_amount"],
        )
        row.expires_at = _ms(numbers["expires_at"])
        row.next_reset_at = _ms(numbers["next_reset_at"])
        if row.resets and row.next_reset_at is None and row.expires_at is None:
            assert row.interval is not None
            row.next_reset_at = add_interval(self.now(), row.interval, row.interval_count)
        self.rows.append(row)
        return row

    def record(self, event: dict[str, Any]) -> None:
        """Append an applied usage event to the ledger."""
        self.ledger.append(event)


def _ms(value: Decimal | None) -> int | None:
    return None if value is None else int(value)


def raise_if(condition: bool, error: ApiError) -> None:
    """Raise ``error`` when ``condition`` holds (keeps rule lists flat)."""
    if condition:
        raise error
