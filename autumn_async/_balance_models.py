"""The nested response objects that balances and customers share: a :class:`Balance`
(with its grants, prices, resets and rollovers), a :class:`Flag`, a :class:`Feature`.

``models`` re-exports them (users import them from there, and their ``__module__``
says so); ``_customer_models`` builds on them without importing ``models``, which
re-exports it too.

There is deliberately no ``from __future__ import annotations`` here: the classes
are published as ``autumn_async.models.X``, and ``typing.get_type_hints`` (the fast
readers and the converter use it) looks string annotations up in the module that
``__module__`` names. Evaluated annotations need no lookup, so the hints resolve
whichever module is imported first.
"""

import attrs

from ._public import publish

__all__ = [
    "Balance",
    "Breakdown",
    "CreditSchemaItem",
    "Feature",
    "FeatureDisplay",
    "Flag",
    "Price",
    "Reset",
    "Rollover",
    "Tier",
]


@attrs.frozen(kw_only=True)
class Reset:
    """When a balance resets: ``interval`` (one of :class:`Interval`'s values or
    ``"multiple"``), how many intervals apart, and the next reset time in Unix ms."""

    interval: str
    interval_count: float | None = None
    resets_at: float | None = None


@attrs.frozen(kw_only=True)
class Tier:
    """One price tier: up to ``to`` units (a number, or ``"inf"`` for the last tier)
    cost ``amount`` each, plus an optional ``flat_amount``."""

    to: float | str
    amount: float
    flat_amount: float | None = None


@attrs.frozen(kw_only=True)
class Price:
    """The price attached to a grant: ``billing_method`` is ``"prepaid"`` or
    ``"usage_based"`` (open), ``tiers`` replaces ``amount`` for tiered prices."""

    billing_units: float | None = None
    billing_method: str | None = None
    max_purchase: float | None = None
    amount: float | None = None
    tiers: list[Tier] | None = None
    tier_behavior: str | None = None


@attrs.frozen(kw_only=True)
class Rollover:
    """An amount carried over from an earlier period, valid until ``expires_at`` (ms)."""

    balance: float
    expires_at: float | None = None
    granted: float | None = None


@attrs.frozen(kw_only=True)
class CreditSchemaItem:
    """How many credits one unit of ``metered_feature_id`` costs in a credit system."""

    metered_feature_id: str
    credit_cost: float


@attrs.frozen(kw_only=True)
class FeatureDisplay:
    """Singular and plural display names of a feature."""

    singular: str | None = None
    plural: str | None = None


@attrs.frozen(kw_only=True)
class Feature:
    """A feature definition, sent only with ``expand=balance.feature`` /
    ``expand=flag.feature``; ``type`` is ``boolean``, ``metered``, ``credit_system``
    or a newer value."""

    id: str
    name: str | None = None
    type: str | None = None
    consumable: bool | None = None
    archived: bool | None = None
    event_names: list[str] | None = None
    credit_schema: list[CreditSchemaItem] | None = None
    display: FeatureDisplay | None = None


@attrs.frozen(kw_only=True)
class Breakdown:
    """One underlying grant of a balance: a plan item, or a standalone balance
    (``plan_id`` ``None``).

    ``remaining`` is never negative: Autumn clamps it at 0 in overage. ``usage`` is not
    clamped: it passes ``included_grant`` in overage and goes negative when the balance
    was set above the grant. ``reset`` is ``{"interval": "one_off", "resets_at": None}``
    for a grant that never resets (``None`` only for continuous-use features and on the
    single synthetic row of an unlimited balance)."""

    id: str = ""
    plan_id: str | None = None
    included_grant: float
    prepaid_grant: float
    remaining: float
    usage: float
    unlimited: bool
    reset: Reset | None = None
    price: Price | None = None
    expires_at: float | None = None


@attrs.frozen(kw_only=True)
class Balance:
    """A customer's balance on one feature, summed over its grants.

    ``remaining`` stays at 0 in overage while ``usage`` may exceed ``granted`` (and is
    negative when the balance was set above the grant). An unlimited balance has
    ``granted`` and ``remaining`` 0 and one synthetic ``breakdown`` row.
    ``next_reset_at`` is Unix ms or ``None``.
    """

    feature_id: str
    granted: float
    remaining: float
    usage: float
    unlimited: bool
    overage_allowed: bool
    max_purchase: float | None = None
    next_reset_at: float | None = None
    feature: Feature | None = None
    breakdown: list[Breakdown] | None = None
    rollovers: list[Rollover] | None = None


@attrs.frozen(kw_only=True)
class Flag:
    """A boolean feature the customer has (check answers these instead of a balance)."""

    id: str | None = None
    feature_id: str | None = None
    plan_id: str | None = None
    expires_at: float | None = None
    feature: Feature | None = None


publish(globals(), tuple(__all__), "autumn_async.models")
