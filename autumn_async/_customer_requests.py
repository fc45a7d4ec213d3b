"""Request bodies of ``customers.*`` and ``entities.*``: check every argument, then build JSON.

Pure functions, run before anything is sent; a bad argument is a ``UsageError`` naming
the field. The rules are the server's own (``useautumn/autumn``):

- customer ids: ``shared/api/common/customerId.ts`` (letters, digits, ``_``, ``-``, ``:``);
- customer fields: ``shared/api/common/customerData.ts``;
- routes and bodies: ``shared/api/customers/crud/*.ts``, ``shared/api/entities/crud/*.ts``;
- pagination: offset up to ``x-api-version`` 2.2 (``pagePaginationSchemas.ts``), cursor
  from 2.3 (``cursorPaginationSchemas.ts``), chosen per version by
  ``server/src/internal/customers/handlers/handleListCustomersV2.ts``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._config import NOT_GIVEN
from ._errors import UsageError
from ._requests import check_id, check_json_object

__all__ = [
    "build_customer_delete",
    "build_customer_get",
    "build_customer_update",
    "build_entity_create",
    "build_entity_ref",
    "build_entity_update",
    "build_get_or_create",
    "build_list",
    "uses_cursor_pages",
]

_CUSTOMER_ID = re.compile(r"[A-Za-z0-9_:-]+")
# The server checks emails with zod's unicode pattern; this catches what is plainly wrong.
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
#: Page sizes the server accepts (offset pages: 1..1000; cursor pages: 1..5000).
MAX_OFFSET_LIMIT = 1000
MAX_CURSOR_LIMIT = 5000
SUBSCRIPTION_STATUSES = ("active", "scheduled")
PROCESSORS = ("stripe", "revenuecat", "vercel")
SORT_ORDERS = ("asc", "desc")


def check_customer_id(value: object, field: str = "customer_id") -> str:
    """A customer id as the server's ``CustomerIdSchema`` accepts it."""
    text = check_id(value, field)
    if not _CUSTOMER_ID.fullmatch(text):
        raise UsageError(
            f"{field} {text!r} may use only letters, digits, '_', '-' and ':' "
            "(no spaces, '@' or '.')",
            field=field,
        )
    return text


def uses_cursor_pages(x_api_version: str) -> bool | None:
    """Whether ``list`` pages by cursor at this API version (2.3 and later), by offset
    (up to 2.2), or ``None`` when the version is not ``major.minor[.patch]`` (CalVer)."""
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)?", x_api_version.strip())
    if match is None:
        return None
    return (int(match[1]), int(match[2])) >= (2, 3)


def _opt_str(body: dict[str, Any], field: str, value: object, *, nullable: bool) -> None:
    """An optional string; with ``nullable``, ``None`` is sent as ``null`` (clears it)."""
    if value is NOT_GIVEN or (value is None and not nullable):
        return
    if value is not None and not isinstance(value, str):
        raise UsageError(f"{field} must be a string, got {type(value).__name__}", field=field)
    body[field] = value


def _opt_bool(body: dict[str, Any], field: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, bool):
        raise UsageError(f"{field} must be a bool, got {type(value).__name__}", field=field)
    body[field] = value


def _opt_object(body: dict[str, Any], field: str, value: object) -> None:
    if value is not None:
        body[field] = check_json_object(value, field)


def _email(body: dict[str, Any], value: object, *, nullable: bool) -> None:
    _opt_str(body, "email", value, nullable=nullable)
    email = body.get("email")
    if email is not None and not _EMAIL.fullmatch(email):
        raise UsageError(f"email {email!r} is not a valid email address", field="email")


def _currency(body: dict[str, Any], value: object, *, nullable: bool) -> None:
    _opt_str(body, "currency", value, nullable=nullable)
    currency = body.get("currency")
    if currency is not None and not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise UsageError(
            f"currency must be a 3-letter ISO code such as 'usd', got {currency!r}",
            field="currency",
        )


def _strings(value: object, field: str, allowed: Sequence[str] | None = None) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise UsageError(f"{field} must be a list of strings", field=field)
    items = []
    for item in value:
        if not isinstance(item, str) or not item:
            raise UsageError(f"{field} must be a list of non-empty strings", field=field)
        if allowed is not None and item not in allowed:
            raise UsageError(
                f"{field} items must be one of {', '.join(allowed)}, got {item!r}", field=field
            )
        items.append(item)
    return items


def _customer_data(
    body: dict[str, Any],
    *,
    name: object,
    email: object,
    fingerprint: object,
    metadata: object,
    stripe_id: object,
    send_email_receipts: object,
    currency: object,
    billing_controls: object,
    config: object,
    nullable: bool,
) -> None:
    """The ``CustomerData`` fields shared by get_or_create and update."""
    _opt_str(body, "name", name, nullable=nullable)
    _email(body, email, nullable=nullable)
    _opt_str(body, "fingerprint", fingerprint, nullable=nullable)
    if metadata is not NOT_GIVEN and metadata is not None:
        body["metadata"] = check_json_object(metadata, "metadata")
    _opt_str(body, "stripe_id", stripe_id, nullable=nullable)
    _opt_bool(body, "send_email_receipts", send_email_receipts)
    _currency(body, currency, nullable=nullable)
    _opt_object(body, "billing_controls", billing_controls)
    _opt_object(body, "config", config)


def build_get_or_create(
    *,
    customer_id: object,
    name: object,
    email: object,
    fingerprint: object,
    metadata: object,
    stripe_id: object,
    create_in_stripe: object,
    auto_enable_plan_id: object,
    send_email_receipts: object,
    currency: object,
    billing_controls: object,
    config: object,
    expand: object,
) -> dict[str, Any]:
    """Body of ``customers.get_or_create`` (``CreateCustomerParamsV1Schema``)."""
    body: dict[str, Any] = {"customer_id": check_customer_id(customer_id)}
    _customer_data(
        body,
        name=name,
        email=email,
        fingerprint=fingerprint,
        metadata=metadata,
        stripe_id=stripe_id,
        send_email_receipts=send_email_receipts,
        currency=currency,
        billing_controls=billing_controls,
        config=config,
        nullable=False,
    )
    _opt_bool(body, "create_in_stripe", create_in_stripe)
    if auto_enable_plan_id is not None:
        body["auto_enable_plan_id"] = check_id(auto_enable_plan_id, "auto_enable_plan_id")
    if expand is not None:
        body["expand"] = _strings(expand, "expand")
    return body


def build_customer_get(*, customer_id: object, expand: object) -> dict[str, Any]:
    """Body of ``customers.get`` (``GetCustomerParamsV1Schema``)."""
    body: dict[str, Any] = {"customer_id": check_customer_id(customer_id)}
    if expand is not None:
        body["expand"] = _strings(expand, "expand")
    return body


def build_customer_update(
    *,
    customer_id: object,
    name: object,
    email: object,
    fingerprint: object,
    metadata: object,
    stripe_id: object,
    send_email_receipts: object,
    currency: object,
    billing_controls: object,
    config: object,
    new_customer_id: object,
) -> dict[str, Any]:
    """Body of ``customers.update`` (``UpdateCustomerParamsV1Schema``).

    ``NOT_GIVEN`` leaves a field as it is; ``None`` clears ``name``, ``email``,
    ``fingerprint``, ``stripe_id`` and ``currency`` (sent as ``null``). ``metadata`` is
    merged into the stored one; a key set to ``None`` deletes that key.
    """
    body: dict[str, Any] = {"customer_id": check_customer_id(customer_id)}
    _customer_data(
        body,
        name=name,
        email=email,
        fingerprint=fingerprint,
        metadata=metadata,
        stripe_id=stripe_id,
        send_email_receipts=send_email_receipts,
        currency=currency,
        billing_controls=billing_controls,
        config=config,
        nullable=True,
    )
    if new_customer_id is not None:
        body["new_customer_id"] = check_customer_id(new_customer_id, "new_customer_id")
    if len(body) == 1:
        raise UsageError("customers.update needs at least one field to change", field=None)
    return body


def build_customer_delete(*, customer_id: object, delete_in_stripe: object) -> dict[str, Any]:
    """Body of ``customers.delete`` (``DeleteCustomerParamsSchema``)."""
    body: dict[str, Any] = {"customer_id": check_customer_id(customer_id)}
    _opt_bool(body, "delete_in_stripe", delete_in_stripe)
    return body


def build_list(
    *,
    cursor_pages: bool | None,
    limit: object,
    offset: object,
    start_cursor: object,
    search: object,
    plans: object,
    subscription_status: object,
    processors: object,
    sort_order: object = None,
    created_at_range: object = None,
    customer_id: object = None,
) -> dict[str, Any]:
    """Body of ``customers.list`` / ``entities.list``, paged the way the version pages.

    ``cursor_pages`` comes from :func:`uses_cursor_pages`: the server ignores the other
    mode's parameter, so a caller paging by offset at 2.3 (or by cursor at 2.1) would
    get the first page forever; that is refused here.
    """
    body: dict[str, Any] = {}
    if offset is not None and start_cursor is not None:
        raise UsageError("give offset or start_cursor, not both", field="start_cursor")
    if start_cursor is not None:
        if cursor_pages is False:
            raise UsageError(
                "start_cursor needs x_api_version 2.3 or later; at this version Autumn "
                "pages by offset (use offset=)",
                field="start_cursor",
            )
        if not isinstance(start_cursor, str):
            raise UsageError("start_cursor must be a string", field="start_cursor")
        body["start_cursor"] = start_cursor
    if offset is not None:
        if cursor_pages is True:
            raise UsageError(
                "offset is ignored from x_api_version 2.3 on, where Autumn pages by cursor "
                "(pass start_cursor=page.next_cursor)",
                field="offset",
            )
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise UsageError("offset must be an int >= 0", field="offset")
        body["offset"] = offset
    if limit is not None:
        ceiling = MAX_CURSOR_LIMIT if cursor_pages else MAX_OFFSET_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= ceiling:
            raise UsageError(f"limit must be an int from 1 to {ceiling}", field="limit")
        body["limit"] = limit
    if search is not None:
        if not isinstance(search, str):
            raise UsageError("search must be a string", field="search")
        body["search"] = search
    if plans is not None:
        if isinstance(plans, (str, Mapping)) or not isinstance(plans, Sequence):
            raise UsageError(
                "plans must be a list of {'id': ..., 'versions': [...]}", field="plans"
            )
        body["plans"] = [check_json_object(plan, "plans") for plan in plans]
        if not all(isinstance(plan.get("id"), str) for plan in body["plans"]):
            raise UsageError("every item of plans needs an 'id' string", field="plans")
    if subscription_status is not None:
        if subscription_status not in SUBSCRIPTION_STATUSES:
            raise UsageError(
                "subscription_status must be 'active' or 'scheduled'", field="subscription_status"
            )
        body["subscription_status"] = subscription_status
    if processors is not None:
        body["processors"] = _strings(processors, "processors", PROCESSORS)
    if sort_order is not None:
        if sort_order not in SORT_ORDERS:
            raise UsageError("sort_order must be 'asc' or 'desc'", field="sort_order")
        body["sort_order"] = sort_order
    _opt_object(body, "created_at_range", created_at_range)
    if customer_id is not None:
        body["customer_id"] = check_customer_id(customer_id)
    return body


def build_entity_create(
    *,
    customer_id: object,
    entity_id: object,
    feature_id: object,
    name: object,
    billing_controls: object,
    customer_data: object,
) -> dict[str, Any]:
    """Body of ``entities.create`` (``CreateEntityParamsV1Schema``)."""
    body: dict[str, Any] = {
        "customer_id": check_customer_id(customer_id),
        "entity_id": check_id(entity_id, "entity_id"),
        "feature_id": check_id(feature_id, "feature_id"),
    }
    _opt_str(body, "name", name, nullable=False)
    _opt_object(body, "billing_controls", billing_controls)
    _opt_object(body, "customer_data", customer_data)
    return body


def build_entity_ref(*, customer_id: object, entity_id: object) -> dict[str, Any]:
    """Body of ``entities.get`` / ``entities.delete``: the customer and the entity.

    The server takes ``customer_id`` as optional, but without it an unknown entity is a
    500 (``findCustomerForEntity`` throws an ``InternalError``), not a 404; so the SDK
    always names the customer.
    """
    return {
        "customer_id": check_customer_id(customer_id),
        "entity_id": check_id(entity_id, "entity_id"),
    }


def build_entity_update(
    *, customer_id: object, entity_id: object, billing_controls: object
) -> dict[str, Any]:
    """Body of ``entities.update`` (``UpdateEntityParamsSchema``: billing controls only)."""
    body = build_entity_ref(customer_id=customer_id, entity_id=entity_id)
    if billing_controls is None:
        raise UsageError("entities.update needs billing_controls", field="billing_controls")
    body["billing_controls"] = check_json_object(billing_controls, "billing_controls")
    return body
