"""``/v1/customers.get_or_create|get|update|delete|list``, statefully.

Follows ``server/src/internal/customers/`` (``cusRouter.ts``'s ``customerRpcRouter``):
get-or-create fills only empty ``name``/``email`` of an existing customer
(``cusUtils.updateCustomerDetails``); update merges ``metadata`` and deletes keys set to
``null`` (``actions/update/updateCustomer.ts``); unknown customers are 404
``customer_not_found``; renaming onto an existing id is 409 ``customer_already_exists``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ._api_errors import ApiError, customer_not_found
from ._customer_views import check_customer_id, customer_view, page
from ._state import EmulatorState
from ._store import Customer
from ._validation import Checker

__all__ = ["CUSTOMER_ROUTES"]

_Op = Callable[[EmulatorState, Any, str, tuple[int, int, int]], dict[str, Any]]
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
#: Fields set to ``null`` on update clear the stored value.
_NULLABLE = ("name", "email", "fingerprint", "stripe_id", "currency")


def _customer_id(c: Checker, field: str = "customer_id", *, required: bool = True) -> str | None:
    value = c.string(field, required=required)
    if value is not None:
        check_customer_id(value, field)
    return value


def _expand(c: Checker) -> list[str]:
    value = c.body.get("expand")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        c.problem("expand: must be an array of strings")
        return []
    return value


def _details(c: Checker) -> dict[str, Any]:
    """The ``CustomerData`` fields present in the body (``None`` = sent as null)."""
    found: dict[str, Any] = {}
    for name in _NULLABLE:
        if name in c.body and c.body[name] is None:
            found[name] = None
        else:
            value = c.string(name)
            if value is not None:
                found[name] = value
    email = found.get("email")
    if email is not None and not _EMAIL.fullmatch(email):
        c.problem("email: not a valid email address")
    for name in ("metadata", "billing_controls", "config"):
        mapping = c.mapping(name)
        if mapping is not None:
            found[name] = mapping
    receipts = c.boolean("send_email_receipts")
    if receipts is not None:
        found["send_email_receipts"] = receipts
    return found


def _get(state: EmulatorState, customer_id: str) -> Customer:
    customer = state.customers.get(customer_id)
    if customer is None:
        raise customer_not_found(customer_id)
    return customer


def get_or_create(
    state: EmulatorState, body: object, env: str, _version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/customers.get_or_create``."""
    c = Checker(body)
    customer_id = _customer_id(c)
    details = _details(c)
    expand = _expand(c)
    c.done()
    assert customer_id is not None
    customer = state.customers.get(customer_id)
    if customer is None:
        customer = state.add_customer(customer_id, details.get("name"))
        for name, value in details.items():
            setattr(customer, name, value)
    else:
        # An existing customer only gains a name or email it lacked.
        for name in ("name", "email"):
            if getattr(customer, name) is None and details.get(name) is not None:
                setattr(customer, name, details[name])
        if "send_email_receipts" in details:
            customer.send_email_receipts = details["send_email_receipts"]
    return customer_view(state, customer, env, expand)


def get(
    state: EmulatorState, body: object, env: str, _version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/customers.get``."""
    c = Checker(body)
    customer_id = _customer_id(c)
    expand = _expand(c)
    c.done()
    assert customer_id is not None
    return customer_view(state, _get(state, customer_id), env, expand)


def update(
    state: EmulatorState, body: object, env: str, _version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/customers.update``."""
    c = Checker(body)
    customer_id = _customer_id(c)
    new_id = _customer_id(c, "new_customer_id", required=False)
    details = _details(c)
    c.done()
    assert customer_id is not None
    customer = _get(state, customer_id)
    if new_id is not None and new_id != customer_id:
        if new_id in state.customers:
            raise ApiError(
                409,
                "customer_already_exists",
                f"Customer with ID {new_id} already exists, can't change to this ID",
            )
        del state.customers[customer_id]
        customer.id = new_id
        state.customers[new_id] = customer
        for row in state.rows:
            if row.customer_id == customer_id:
                row.customer_id = new_id
    metadata = details.pop("metadata", None)
    if metadata is not None:
        merged = {**customer.metadata, **metadata}
        customer.metadata = {k: v for k, v in merged.items() if v is not None}
    for name, value in details.items():
        setattr(customer, name, value)
    return customer_view(state, customer, env)


def delete(
    state: EmulatorState, body: object, _env: str, _version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/customers.delete``: the customer, its entities and its balances."""
    c = Checker(body)
    customer_id = _customer_id(c)
    c.boolean("delete_in_stripe")
    c.done()
    assert customer_id is not None
    _get(state, customer_id)
    del state.customers[customer_id]
    state.rows[:] = [row for row in state.rows if row.customer_id != customer_id]
    return {"success": True}


def list_customers(
    state: EmulatorState, body: object, env: str, version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/customers.list``: newest first; ``search`` matches id, name or email."""
    c = Checker(body)
    search = (c.string("search") or "").strip().lower()
    c.done()
    customers = list(state.customers.values())
    if search:
        customers = [
            cus
            for cus in customers
            if any(search in (text or "").lower() for text in (cus.id, cus.name, cus.email))
        ]
    return page(
        customers,
        body,
        version,
        key=lambda cus: (cus.created_at, cus.id),
        render=lambda cus: customer_view(state, cus, env),
        total_count=len(state.customers),
        # The server's rule (handleListCustomersV2.ts): "more" whenever the page is full.
        offset_has_more=lambda _offset, limit, shown: shown == limit,
        default_limit=10,
    )


#: The served customer routes and the state operation behind each.
CUSTOMER_ROUTES: dict[str, _Op] = {
    "/v1/customers.get_or_create": get_or_create,
    "/v1/customers.get": get,
    "/v1/customers.update": update,
    "/v1/customers.delete": delete,
    "/v1/customers.list": list_customers,
}
