"""Typed answers of the customer and entity routes (``customers.*``, ``entities.*``).

The shapes follow Autumn's ``ApiCustomerV5`` (``shared/api/customers/apiCustomerV5.ts``,
``baseApiCustomer.ts``) and ``ApiEntityV2`` (``shared/api/entities/apiEntityV2.ts``),
which are what ``x-api-version`` 2.1 and later answer. ``balances`` hold the very
:class:`~autumn_async.models.Balance` that ``balances.check`` returns, and ``flags`` the
same :class:`~autumn_async.models.Flag`.

Like the balance models these are lenient in shape: every field the server may omit or
add later is optional, and the parts of a customer that belong to billing (plans,
invoices, billing controls, processors) are kept as plain JSON rather than modelled, so
a new field there never breaks a metering integration.

As in ``_balance_models``, annotations are evaluated (no ``from __future__ import
annotations``): the classes are published as ``autumn_async.models.X``, and
``typing.get_type_hints`` would look string annotations up there.
"""

from typing import Any

import attrs

from ._balance_models import Balance, Flag
from ._public import publish

__all__ = [
    "Customer",
    "CustomersDeleteResponse",
    "CustomersListResponse",
    "EntitiesDeleteResponse",
    "EntitiesListResponse",
    "Entity",
]

#: Marks a field the SDK fills in itself; ``_serde`` skips it when reading JSON.
_CLIENT_SIDE: dict[str, Any] = {"client_side": True}

#: A JSON object kept as it came (billing data this SDK does not interpret).
JSONObject = dict[str, Any]
#: ``list`` under another name: the page classes have a field called ``list`` (the wire
#: name), which shadows the builtin in their class namespace (for mypy, and for
#: ``get_type_hints`` of any string annotation).
_List = list


@attrs.frozen(kw_only=True)
class Entity:
    """A sub-resource of a customer (a seat, a project, a workspace) with its own balances.

    ``balances`` maps feature ids to the entity's :class:`Balance` (its own grants plus
    the customer's shared ones), ``flags`` its boolean features. ``created_at`` is Unix
    milliseconds; ``env`` is ``"sandbox"`` or ``"live"``. Plan and billing data
    (``subscriptions``, ``purchases``, ``billing_controls``, ``invoices``) are plain JSON.
    """

    id: str | None
    name: str | None = None
    customer_id: str | None = None
    feature_id: str | None = None
    created_at: float | None = None
    env: str | None = None
    balances: dict[str, Balance] = attrs.field(factory=dict)
    flags: dict[str, Flag] = attrs.field(factory=dict)
    subscriptions: list[JSONObject] | None = None
    purchases: list[JSONObject] | None = None
    billing_controls: JSONObject | None = None
    invoices: list[JSONObject] | None = None


@attrs.frozen(kw_only=True)
class Customer:
    """A customer as Autumn returns it from ``customers.get_or_create``, ``get``, ``update``.

    ``balances`` maps each feature id to the same :class:`Balance` that
    ``balances.check`` returns; ``flags`` maps boolean feature ids to a :class:`Flag`.
    ``metadata`` is your own JSON object. ``created_at`` is Unix milliseconds; ``env`` is
    ``"sandbox"`` or ``"live"``. ``entities`` is present when the server includes it
    (``expand=["entities"]``). Billing data (``subscriptions``, ``purchases``,
    ``licenses``, ``billing_controls``, ``config``, ``processors``, ``invoices`` and the
    other expansions) is kept as plain JSON.
    """

    id: str | None
    name: str | None = None
    email: str | None = None
    created_at: float | None = None
    fingerprint: str | None = None
    stripe_id: str | None = None
    env: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict)
    send_email_receipts: bool | None = None
    balances: dict[str, Balance] = attrs.field(factory=dict)
    flags: dict[str, Flag] = attrs.field(factory=dict)
    entities: list[Entity] | None = None
    subscriptions: list[JSONObject] | None = None
    purchases: list[JSONObject] | None = None
    licenses: list[JSONObject] | None = None
    billing_controls: JSONObject | None = None
    config: JSONObject | None = None
    processors: JSONObject | None = None
    invoices: list[JSONObject] | None = None
    invoice_previews: list[JSONObject] | None = None
    trials_used: list[JSONObject] | None = None
    referrals: list[JSONObject] | None = None
    rewards: JSONObject | None = None


@attrs.frozen(kw_only=True)
class CustomersListResponse:
    """One page of ``customers.list``.

    Up to ``x-api-version`` 2.2 Autumn pages by offset: ``offset``, ``limit``,
    ``has_more``, ``total`` (customers on this page), ``total_count`` and
    ``total_filtered_count`` are set. From 2.3 it pages by cursor: ``next_cursor`` is
    the ``start_cursor`` of the next page, ``None`` on the last one.
    :attr:`more` answers "is there another page?" in either mode.
    """

    list: _List[Customer]
    has_more: bool | None = None
    offset: float | None = None
    limit: float | None = None
    total: float | None = None
    total_count: float | None = None
    total_filtered_count: float | None = None
    next_cursor: str | None = None

    @property
    def more(self) -> bool:
        """Whether another page follows (``has_more`` or a ``next_cursor``)."""
        return bool(self.has_more) or self.next_cursor is not None


@attrs.frozen(kw_only=True)
class EntitiesListResponse:
    """One page of ``entities.list``; paged like :class:`CustomersListResponse`."""

    list: _List[Entity]
    has_more: bool | None = None
    offset: float | None = None
    limit: float | None = None
    total: float | None = None
    total_count: float | None = None
    total_filtered_count: float | None = None
    next_cursor: str | None = None

    @property
    def more(self) -> bool:
        """Whether another page follows (``has_more`` or a ``next_cursor``)."""
        return bool(self.has_more) or self.next_cursor is not None


@attrs.frozen(kw_only=True)
class CustomersDeleteResponse:
    """Answer of ``customers.delete``. ``success`` is ``False`` when Autumn deleted the
    customer but could not delete it in Stripe (``delete_in_stripe=True``).

    ``replayed`` is set by the SDK when an earlier attempt of this call was applied and
    its answer lost.
    """

    success: bool
    replayed: bool = attrs.field(default=False, metadata=_CLIENT_SIDE)


@attrs.frozen(kw_only=True)
class EntitiesDeleteResponse:
    """Answer of ``entities.delete``; ``replayed`` as for :class:`CustomersDeleteResponse`."""

    success: bool
    replayed: bool = attrs.field(default=False, metadata=_CLIENT_SIDE)


publish(globals(), tuple(__all__), "autumn_async.models")
