"""``/v1/entities.create|get|list|update|delete``, statefully.

Follows ``server/src/internal/entities/`` (``entityRouter.ts``'s ``entityRpcRouter``):
create gets or creates the customer, needs a defined, non-consumable feature
(``handlers/handleCreateEntity/getInputEntities.ts``) and refuses an existing id with
409 ``entity_already_exists``; without ``customer_id`` the owner is looked up by entity
id, and an unknown entity is then a 500 (``actions/findCustomer.ts``). Deleting an
entity drops its own balance rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._api_errors import ApiError, customer_not_found, entity_not_found, invalid_request
from ._customer_views import check_customer_id, entity_view, page
from ._state import EmulatorState
from ._store import Customer, EntityRecord
from ._validation import Checker

__all__ = ["ENTITY_ROUTES"]

_Op = Callable[[EmulatorState, Any, str, tuple[int, int, int]], dict[str, Any]]


def _owner(state: EmulatorState, c: Checker) -> tuple[Customer, str]:
    """The customer (named, or found by entity id) and the entity id of a request."""
    customer_id = c.string("customer_id")
    entity_id = c.string("entity_id", required=True)
    c.done()
    assert entity_id is not None
    if customer_id is None:
        owners = [cus for cus in state.customers.values() if entity_id in cus.entities]
        if len(owners) > 1:
            raise ApiError(
                400,
                "entity_id_required",
                f"More than one customer has an entity with ID '{entity_id}'. Include "
                "customer_id in the request so we know which one to use.",
            )
        if not owners:
            raise ApiError(500, "internal_error", f"No entities found for entityId {entity_id}")
        return owners[0], entity_id
    customer = state.customers.get(customer_id)
    if customer is None:
        raise customer_not_found(customer_id)
    if entity_id not in customer.entities:
        raise entity_not_found(entity_id)
    return customer, entity_id


def create(
    state: EmulatorState, body: object, env: str, _version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/entities.create``."""
    c = Checker(body)
    customer_id = c.string("customer_id", required=True)
    entity_id = c.string("entity_id", required=True)
    feature_id = c.string("feature_id", required=True)
    name = c.string("name")
    billing_controls = c.mapping("billing_controls")
    customer_data = c.nested("customer_data")
    customer_name = customer_data.string("name") if customer_data is not None else None
    c.done()
    assert customer_id is not None
    assert entity_id is not None
    assert feature_id is not None
    customer = state.customers.get(customer_id)
    if customer is None:
        check_customer_id(customer_id)
        customer = state.add_customer(customer_id, customer_name)
    feature = state.feature(feature_id)
    if feature.type == "credit_system" or (feature.type == "metered" and feature.consumable):
        raise invalid_request(
            f"Feature '{feature_id}' is consumable (e.g. credits, API calls). Entities can "
            "only be created for non-consumable features (e.g. seats)."
        )
    if entity_id in customer.entities:
        raise ApiError(409, "entity_already_exists", f"Entity {entity_id} already exists")
    customer.entities[entity_id] = EntityRecord(name, feature_id, state.now(), billing_controls)
    return entity_view(state, customer, entity_id, env)


def get(
    state: EmulatorState, body: object, env: str, _version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/entities.get``."""
    customer, entity_id = _owner(state, Checker(body))
    return entity_view(state, customer, entity_id, env)


def update(
    state: EmulatorState, body: object, env: str, _version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/entities.update``: replaces ``billing_controls``."""
    c = Checker(body)
    billing_controls = c.mapping("billing_controls")
    customer, entity_id = _owner(state, c)
    if billing_controls is not None:
        record = customer.entities[entity_id]
        if record is None:  # seeded without details: give it a record to hold them
            record = EntityRecord(None, "", customer.created_at)
            customer.entities[entity_id] = record
        record.billing_controls = billing_controls
    return entity_view(state, customer, entity_id, env)


def delete(
    state: EmulatorState, body: object, _env: str, _version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/entities.delete``: the entity and its own balance rows."""
    customer, entity_id = _owner(state, Checker(body))
    del customer.entities[entity_id]
    state.rows[:] = [
        row
        for row in state.rows
        if not (row.customer_id == customer.id and row.entity_id == entity_id)
    ]
    return {"success": True}


def list_entities(
    state: EmulatorState, body: object, env: str, version: tuple[int, int, int]
) -> dict[str, Any]:
    """``POST /v1/entities.list``: newest first; ``customer_id`` and ``search`` filter."""
    c = Checker(body)
    customer_id = c.string("customer_id")
    search = (c.string("search") or "").strip().lower()
    c.done()
    every = [(cus, entity_id) for cus in state.customers.values() for entity_id in cus.entities]
    items = [
        (cus, entity_id)
        for cus, entity_id in every
        if (customer_id is None or cus.id == customer_id)
        and (not search or search in entity_id.lower() or search in _name(cus, entity_id))
    ]

    def key(item: tuple[Customer, str]) -> tuple[int, str]:
        record = item[0].entities[item[1]]
        return (record.created_at if record else item[0].created_at, item[1])

    filtered = len(items)
    return page(
        items,
        body,
        version,
        key=key,
        render=lambda item: entity_view(state, item[0], item[1], env),
        total_count=len(every),
        # The server's rule (handleListEntitiesV2.ts): entities left after this page.
        offset_has_more=lambda offset, _limit, shown: offset + shown < filtered,
        default_limit=10,
    )


def _name(customer: Customer, entity_id: str) -> str:
    record = customer.entities[entity_id]
    return (record.name or "").lower() if record else ""


#: The served entity routes and the state operation behind each.
ENTITY_ROUTES: dict[str, _Op] = {
    "/v1/entities.create": create,
    "/v1/entities.get": get,
    "/v1/entities.list": list_entities,
    "/v1/entities.update": update,
    "/v1/entities.delete": delete,
}
