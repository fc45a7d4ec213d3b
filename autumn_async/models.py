"""Typed values for the balances API: the four responses and their nested objects, plus
the request-side ``reset`` object and intervals (defined in ``_request_models``), the
nested objects balances and customers share (``_balance_models``) and the customer and
entity models (``_customer_models``). Every class here reports ``autumn_async.models``
as its module.

Response models are lenient in shape and open in their enums: every enum-valued field
is typed ``str`` so a value Autumn adds later (``"multiple"``, ``"ai_credit_system"``)
is kept rather than rejected, and everything the API contract marks optional or
nullable defaults to ``None``. Reading JSON into these classes is ``_serde``'s job;
this module does no I/O and imports no serialisation library.

Fields whose metadata holds ``client_side=True`` are not wire fields: the SDK sets
them after the answer is read (a fail-open fallback, a queued or replayed call) and the
converter never reads them from JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._balance_models import (
    Balance,
    Breakdown,
    CreditSchemaItem,
    Feature,
    FeatureDisplay,
    Flag,
    Price,
    Reset,
    Rollover,
    Tier,
)
from ._customer_models import (
    Customer,
    CustomersDeleteResponse,
    CustomersListResponse,
    EntitiesDeleteResponse,
    EntitiesListResponse,
    Entity,
)
from ._request_models import (
    BalancesCreateInterval,
    BalancesCreateReset,
    BalancesUpdateInterval,
    Interval,
)

__all__ = [
    "Balance",
    "BalancesCheckResponse",
    "BalancesCreateInterval",
    "BalancesCreateReset",
    "BalancesCreateResponse",
    "BalancesTrackResponse",
    "BalancesUpdateInterval",
    "BalancesUpdateResponse",
    "Breakdown",
    "CreditSchemaItem",
    "Customer",
    "CustomersDeleteResponse",
    "CustomersListResponse",
    "Deduction",
    "EntitiesDeleteResponse",
    "EntitiesListResponse",
    "Entity",
    "Feature",
    "FeatureDisplay",
    "Flag",
    "FreeTrial",
    "Interval",
    "Preview",
    "Price",
    "Product",
    "ProductItem",
    "ProductItemConfig",
    "ProductItemDisplay",
    "ProductProperties",
    "Reset",
    "Rollover",
    "RolloverConfig",
    "Tier",
]

#: Marks a field the SDK fills in itself; ``_serde`` skips it when reading JSON.
_CLIENT_SIDE: Mapping[str, Any] = {"client_side": True}


# --- preview (paywall information on a denied check) ---------------------------------


@attrs.frozen(kw_only=True)
class ProductItemDisplay:
    """Display text of a product item."""

    primary_text: str | None = None
    secondary_text: str | None = None


@attrs.frozen(kw_only=True)
class RolloverConfig:
    """How unused balance of a product item rolls over (``duration`` ``month`` or
    ``forever``)."""

    max: float | None = None
    length: float | None = None
    duration: str | None = None


@attrs.frozen(kw_only=True)
class ProductItemConfig:
    """Rollover and proration settings of a product item."""

    rollover: RolloverConfig | None = None
    on_increase: str | None = None
    on_decrease: str | None = None


@attrs.frozen(kw_only=True)
class ProductItem:
    """One line of a product: a price, a feature grant or a priced feature.

    ``included_usage`` is a number or ``"inf"``.
    """

    type: str | None = None
    feature_id: str | None = None
    feature_type: str | None = None
    included_usage: float | str | None = None
    interval: str | None = None
    interval_count: float | None = None
    price: float | None = None
    tiers: list[Tier] | None = None
    usage_model: str | None = None
    billing_units: float | None = None
    reset_usage_when_enabled: bool | None = None
    entity_feature_id: str | None = None
    display: ProductItemDisplay | None = None
    quantity: float | None = None
    next_cycle_quantity: float | None = None
    config: ProductItemConfig | None = None


@attrs.frozen(kw_only=True)
class FreeTrial:
    """A product's free trial: ``length`` units of ``duration`` (``day``, ``month``,
    ``year``)."""

    duration: str | None = None
    length: float | None = None
    unique_fingerprint: bool | None = None
    card_required: bool | None = None
    trial_available: bool = True


@attrs.frozen(kw_only=True)
class ProductProperties:
    """Derived facts about a product (free, one-off, trial)."""

    is_free: bool | None = None
    is_one_off: bool | None = None
    interval_group: str | None = None
    has_trial: bool | None = None
    updateable: bool | None = None


@attrs.frozen(kw_only=True)
class Product:
    """An upgrade or add-on candidate offered in a :class:`Preview`.

    ``scenario`` says what attaching it would do (``upgrade``, ``new``, ...).
    """

    id: str
    name: str | None = None
    group: str | None = None
    env: str | None = None
    is_add_on: bool | None = None
    is_default: bool | None = None
    archived: bool | None = None
    version: float | None = None
    created_at: float | None = None
    items: list[ProductItem] | None = None
    free_trial: FreeTrial | None = None
    base_variant_id: str | None = None
    scenario: str | None = None
    properties: ProductProperties | None = None


@attrs.frozen(kw_only=True)
class Preview:
    """Paywall information for a denied check made with ``with_preview=True``.

    ``scenario`` is ``usage_limit`` (has a balance, ran out) or ``feature_flag`` (no
    access at all).
    """

    scenario: str | None = None
    title: str | None = None
    message: str | None = None
    feature_id: str | None = None
    feature_name: str | None = None
    products: list[Product] | None = None
    upgrade_product_id: str | None = None


@attrs.frozen(kw_only=True)
class Deduction:
    """What one track took from one balance row (negative ``value`` means credited)."""

    balance_id: str | None = None
    feature_id: str | None = None
    plan_id: str | None = None
    reset: Reset | None = None
    value: float | None = None


# --- responses -----------------------------------------------------------------------


def _cause_repr(cause: BaseException | None) -> str:
    # The exception's text may hold a URL or a body; its type is what a log needs.
    return "None" if cause is None else type(cause).__name__


@attrs.frozen(kw_only=True)
class BalancesCreateResponse:
    """Answer of ``balances.create``; ``success`` is ``True`` on every 2xx.

    ``replayed`` is set by the SDK when an earlier attempt of this call was applied
    and its answer lost (the retry was refused as a duplicate).
    """

    success: bool
    replayed: bool = attrs.field(default=False, metadata=_CLIENT_SIDE)


@attrs.frozen(kw_only=True)
class BalancesUpdateResponse:
    """Answer of ``balances.update``; ``success`` is ``True`` on every 2xx.

    ``replayed`` is set by the SDK when an earlier attempt of this call was applied
    and its answer lost.
    """

    success: bool
    replayed: bool = attrs.field(default=False, metadata=_CLIENT_SIDE)


@attrs.frozen(kw_only=True)
class BalancesCheckResponse:
    """Answer of ``balances.check``: may the customer use ``required_balance`` units?

    ``balance`` is ``None`` for a boolean feature (see ``flag``) or when the customer
    has no balance. ``required_balance`` is in credits when the check went through a
    credit system. ``preview`` is only present with ``with_preview=True``.

    ``fallback`` is ``True`` when the answer is a fail-open fallback rather than a real
    decision; ``fallback_source`` is ``"server"`` (Autumn answered 202) or ``"client"``
    (the SDK's own fail-open), and ``fallback_cause`` is the error that triggered a
    client fallback. These three are set by the SDK, never read from the wire.
    """

    allowed: bool
    customer_id: str
    entity_id: str | None = None
    required_balance: float | None = None
    balance: Balance | None = None
    flag: Flag | None = None
    balances: dict[str, Balance | None] | None = None
    preview: Preview | None = None
    fallback: bool = attrs.field(default=False, metadata=_CLIENT_SIDE)
    fallback_source: str | None = attrs.field(default=None, metadata=_CLIENT_SIDE)
    fallback_cause: BaseException | None = attrs.field(
        default=None, eq=False, repr=_cause_repr, metadata=_CLIENT_SIDE
    )


@attrs.frozen(kw_only=True)
class BalancesTrackResponse:
    """Answer of ``balances.track``.

    ``value`` echoes the requested amount, not what was deducted. ``balance`` is the
    affected balance, ``None`` when several features (see ``balances``) or none were
    affected. ``deductions`` lists each balance row touched (newer servers).

    ``queued`` is ``True`` when Autumn answered 202 (accepted, not yet applied;
    ``balance`` is ``None``); ``replayed`` when an earlier attempt was applied and its
    answer lost, so the balance is unknown. Both are set by the SDK.
    """

    customer_id: str
    value: float
    entity_id: str | None = None
    event_name: str | None = None
    balance: Balance | None = None
    balances: dict[str, Balance | None] | None = None
    deductions: list[Deduction] | None = None
    queued: bool = attrs.field(default=False, metadata=_CLIENT_SIDE)
    replayed: bool = attrs.field(default=False, metadata=_CLIENT_SIDE)
