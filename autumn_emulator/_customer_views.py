"""How customers and entities look on the wire, and how their lists are paged.

Shapes: ``ApiCustomerV5`` (``shared/api/customers/apiCustomerV5.ts``) and ``ApiEntityV2``
(``shared/api/entities/apiEntityV2.ts``), what ``x-api-version`` 2.1 and later answer.
Paging: by offset up to 2.2 (``shared/api/common/pagePaginationSchemas.ts``), by an
opaque cursor from 2.3 (``shared/api/common/cursorPaginationSchemas.ts``: base64url of
``{"v": 0, "id": ..., "t": created_at}``, newest first).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._api_errors import ApiError, invalid_inputs
from ._balance_rows import Row
from ._store import Customer, EntityRecord, Store
from ._validation import Checker

__all__ = [
    "CURSOR_PAGES_SINCE",
    "check_customer_id",
    "customer_view",
    "entity_view",
    "page",
]

_T = TypeVar("_T")

#: ``customers.list`` / ``entities.list`` page by cursor from this version on.
CURSOR_PAGES_SINCE = (2, 3, 0)
_ALLOWED = "Use only letters, numbers, underscores, hyphens, and colons."


def check_customer_id(value: str, field: str = "customer_id") -> None:
    """The server's ``CustomerIdSchema`` refinement, with its messages."""
    problem = None
    if value == "":
        problem = "can't be an empty string"
    elif "@" in value:
        problem = f"cannot contain @ symbol. {_ALLOWED}"
    elif " " in value:
        problem = f"cannot contain spaces. {_ALLOWED}"
    elif "." in value:
        problem = f"cannot contain periods. {_ALLOWED}"
    else:
        bad = re.search(r"[^a-zA-Z0-9_:-]", value)
        if bad:
            problem = f"cannot contain '{bad.group()}'. {_ALLOWED}"
    if problem is not None:
        raise invalid_inputs(f"{field}: {problem}")


def _flags(store: Store, customer_id: str, entity_id: str | None) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    for feature in store.features.values():
        if feature.type != "boolean":
            continue
        rows: list[Row] = store.view(customer_id, entity_id, feature.id)
        if rows:
            row = rows[0]
            flags[feature.id] = {
                "id": row.id,
                "plan_id": row.plan_id,
                "expires_at": row.expires_at,
                "feature_id": row.feature_id,
            }
    return flags


def _base_entity(customer: Customer, entity_id: str, env: str) -> dict[str, Any]:
    record: EntityRecord | None = customer.entities.get(entity_id)
    view: dict[str, Any] = {
        "id": entity_id,
        "name": record.name if record else None,
        "customer_id": customer.id,
        "created_at": record.created_at if record else customer.created_at,
        "env": env,
    }
    if record is not None:
        view["feature_id"] = record.feature_id
    return view


def entity_view(store: Store, customer: Customer, entity_id: str, env: str) -> dict[str, Any]:
    """An entity as ``entities.get`` answers it: its own and the customer's balances."""
    view = _base_entity(customer, entity_id, env)
    record = customer.entities.get(entity_id)
    view["subscriptions"] = []
    view["purchases"] = []
    view["balances"] = store.balances(customer.id, entity_id)
    view["flags"] = _flags(store, customer.id, entity_id)
    if record is not None and record.billing_controls is not None:
        view["billing_controls"] = record.billing_controls
    return view


def customer_view(
    store: Store, customer: Customer, env: str, expand: Sequence[str] = ()
) -> dict[str, Any]:
    """A customer as ``customers.get`` answers it, balances keyed by feature id."""
    view: dict[str, Any] = {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "created_at": customer.created_at,
        "fingerprint": customer.fingerprint,
        "stripe_id": customer.stripe_id,
        "env": env,
        "metadata": dict(customer.metadata),
        "send_email_receipts": customer.send_email_receipts,
        "billing_controls": customer.billing_controls or {},
        "subscriptions": [],
        "purchases": [],
        "licenses": [],
        "balances": store.balances(customer.id),
        "flags": _flags(store, customer.id, None),
    }
    if customer.config is not None:
        view["config"] = customer.config
    if "entities" in expand:
        view["entities"] = [_base_entity(customer, e, env) for e in customer.entities]
    if "invoices" in expand:
        view["invoices"] = []
    return view


def _encode_cursor(item_id: str, created_at: int) -> str:
    raw = json.dumps({"v": 0, "id": item_id, "t": created_at}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str] | None:
    if cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor payload is not valid JSON") from exc
    if (
        not isinstance(fields, dict)
        or fields.get("v") != 0
        or not isinstance(fields.get("id"), str)
        or not isinstance(fields.get("t"), int)
    ):
        raise ApiError(400, "invalid_cursor", "cursor shape mismatch")
    return fields["t"], fields["id"]


def page(
    items: Sequence[_T],
    body: object,
    version: tuple[int, int, int],
    key: Callable[[_T], tuple[int, str]],
    render: Callable[[_T], dict[str, Any]],
    *,
    total_count: int,
    offset_has_more: Callable[[int, int, int], bool],
    default_limit: int,
) -> dict[str, Any]:
    """One page of ``items`` (already filtered), newest first, the way ``version`` pages.

    ``key`` gives (created_at, id); cursor pages honour ``sort_order`` (``asc``, ``desc``),
    as ``cursorPaginatedFullCusQuery.ts`` orders by ``created_at, id``.
    ``offset_has_more(offset, limit, shown)`` is the route's own rule (customers: a full
    page; entities: items left after this page).
    """
    ordered = sorted(items, key=key, reverse=True)
    c = Checker(body)
    if version >= CURSOR_PAGES_SINCE:
        start = c.string("start_cursor") or ""
        limit = c.number("limit")
        ascending = c.choice("sort_order", ("asc", "desc")) == "asc"
        c.done()
        size = 50 if limit is None else int(limit)
        if size < 1 or size > 5000:
            raise invalid_inputs("limit: must be between 1 and 5000")
        after = _decode_cursor(start)
        if ascending:
            ordered.reverse()
        if after is not None:
            # The server's predicate: (created_at, id) < cursor when newest first, > if not.
            if ascending:
                ordered = [item for item in ordered if key(item) > after]
            else:
                ordered = [item for item in ordered if key(item) < after]
        shown = ordered[:size]
        more = len(ordered) > size
        last = key(shown[-1]) if shown else None
        next_cursor = _encode_cursor(last[1], last[0]) if more and last else None
        return {"list": [render(item) for item in shown], "next_cursor": next_cursor}
    offset = c.number("offset")
    limit = c.number("limit")
    c.done()
    skip = 0 if offset is None else int(offset)
    size = default_limit if limit is None else int(limit)
    if skip < 0:
        raise invalid_inputs("offset: must be greater than or equal to 0")
    if size < 1 or size > 1000:
        raise invalid_inputs("limit: must be between 1 and 1000")
    shown = ordered[skip : skip + size]
    return {
        "list": [render(item) for item in shown],
        "total": len(shown),
        "total_count": total_count,
        "total_filtered_count": len(items),
        "limit": size,
        "offset": skip,
        "has_more": offset_has_more(skip, size, len(shown)),
    }
