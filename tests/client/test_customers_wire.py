"""customers.* and entities.* on the wire, against a real loopback server.

Routes: ``server/src/internal/customers/cusRouter.ts`` (``customerRpcRouter``) and
``server/src/internal/entities/entityRouter.ts`` (``entityRpcRouter``); response shapes:
``shared/api/customers/apiCustomerV5.ts``, ``shared/api/entities/apiEntityV2.ts``.
"""

from __future__ import annotations

from typing import Any

import pytest

from autumn_async import (
    AsyncAutumn,
    Balance,
    ConflictError,
    Customer,
    Entity,
    NotFoundError,
    ResponseValidationError,
)

from ..conftest import INSTANT_RETRIES, SECRET
from .test_wire import Recorder, answer, drop_connection, server

__all__ = ["server"]  # the loopback fixture, shared with test_wire

BALANCE = {
    "feature_id": "messages",
    "granted": 100,
    "remaining": 60,
    "usage": 40,
    "unlimited": False,
    "overage_allowed": False,
    "max_purchase": None,
    "next_reset_at": 1773851121437,
    "breakdown": [],
}
#: ``API_CUSTOMER_V5_EXAMPLE`` of apiCustomerV5.ts, in its wire (snake_case) form.
CUSTOMER = {
    "id": "c1",
    "name": "Patrick",
    "email": "patrick@useautumn.com",
    "created_at": 1771409161016,
    "fingerprint": None,
    "stripe_id": "cus_U0BKxpq1mFhuJO",
    "processors": {"stripe": {"id": "cus_U0BKxpq1mFhuJO"}},
    "env": "sandbox",
    "metadata": {},
    "send_email_receipts": False,
    "billing_controls": {"auto_topups": []},
    "subscriptions": [{"plan_id": "pro_plan", "status": "active", "quantity": 1}],
    "purchases": [],
    "licenses": [],
    "balances": {"messages": BALANCE},
    "flags": {
        "advanced_workflows": {
            "id": "cus_ent_abc123",
            "plan_id": "pro_plan",
            "expires_at": None,
            "feature_id": "advanced_workflows",
        }
    },
    "config": {"disable_pooled_balance": False, "disable_overage_billing": False},
}
ENTITY = {
    "id": "seat_1",
    "name": "Seat one",
    "customer_id": "c1",
    "feature_id": "seats",
    "created_at": 1771409161016,
    "env": "sandbox",
    "subscriptions": [],
    "purchases": [],
    "balances": {"messages": BALANCE},
    "flags": {},
}
NOT_FOUND = {"message": "Customer c9 not found", "code": "customer_not_found", "env": "sandbox"}


async def client_for(server: Recorder, version: str = "2.1") -> AsyncAutumn:
    return AsyncAutumn(
        secret_key=SECRET,
        server_url=server.url,
        retry_config=INSTANT_RETRIES,
        x_api_version=version,
    )


@pytest.mark.parametrize(
    ("resource", "op", "kwargs", "path", "wire", "reply", "mutates"),
    [
        (
            "customers",
            "get_or_create",
            {"customer_id": "c1", "name": "Patrick", "metadata": {"a": 1}},
            "/v1/customers.get_or_create",
            {"customer_id": "c1", "name": "Patrick", "metadata": {"a": 1}},
            CUSTOMER,
            True,
        ),
        (
            "customers",
            "get",
            {"customer_id": "c1", "expand": ["entities"]},
            "/v1/customers.get",
            {"customer_id": "c1", "expand": ["entities"]},
            CUSTOMER,
            False,
        ),
        (
            "customers",
            "update",
            {"customer_id": "c1", "email": None, "new_customer_id": "c2"},
            "/v1/customers.update",
            {"customer_id": "c1", "email": None, "new_customer_id": "c2"},
            CUSTOMER,
            True,
        ),
        (
            "customers",
            "delete",
            {"customer_id": "c1", "delete_in_stripe": True},
            "/v1/customers.delete",
            {"customer_id": "c1", "delete_in_stripe": True},
            {"success": True},
            True,
        ),
        (
            "customers",
            "list",
            {"limit": 20, "offset": 40, "search": "pat"},
            "/v1/customers.list",
            {"limit": 20, "offset": 40, "search": "pat"},
            {"list": [CUSTOMER], "has_more": False, "offset": 40, "limit": 20, "total": 1},
            False,
        ),
        (
            "entities",
            "create",
            {"customer_id": "c1", "entity_id": "seat_1", "feature_id": "seats", "name": "S"},
            "/v1/entities.create",
            {"customer_id": "c1", "entity_id": "seat_1", "feature_id": "seats", "name": "S"},
            ENTITY,
            True,
        ),
        (
            "entities",
            "get",
            {"customer_id": "c1", "entity_id": "seat_1"},
            "/v1/entities.get",
            {"customer_id": "c1", "entity_id": "seat_1"},
            ENTITY,
            False,
        ),
        (
            "entities",
            "update",
            {"customer_id": "c1", "entity_id": "seat_1", "billing_controls": {"x": []}},
            "/v1/entities.update",
            {"customer_id": "c1", "entity_id": "seat_1", "billing_controls": {"x": []}},
            ENTITY,
            True,
        ),
        (
            "entities",
            "delete",
            {"customer_id": "c1", "entity_id": "seat_1"},
            "/v1/entities.delete",
            {"customer_id": "c1", "entity_id": "seat_1"},
            {"success": True},
            True,
        ),
        (
            "entities",
            "list",
            {"customer_id": "c1"},
            "/v1/entities.list",
            {"customer_id": "c1"},
            {"list": [ENTITY], "has_more": False, "offset": 0, "limit": 10, "total": 1},
            False,
        ),
    ],
)
async def test_each_call_posts_its_route_and_body(
    server: Recorder,
    resource: str,
    op: str,
    kwargs: dict[str, Any],
    path: str,
    wire: dict[str, Any],
    reply: dict[str, Any],
    mutates: bool,
) -> None:
    """One POST to the RPC route with exactly the body; mutations carry an Idempotency-Key."""
    server.script = [answer(reply)]
    async with await client_for(server) as autumn:
        await getattr(getattr(autumn, resource), op)(**kwargs)
    (sent,) = server.requests
    assert (sent["method"], sent["path"], sent["body"]) == ("POST", path, wire)
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert ("Idempotency-Key" in sent["headers"]) is mutates


async def test_customer_answer_is_typed_with_check_s_balance_model(server: Recorder) -> None:
    """balances are the Balance of balances.check; billing data stays plain JSON."""
    server.script = [answer(CUSTOMER)]
    async with await client_for(server) as autumn:
        customer = await autumn.customers.get(customer_id="c1")
    assert isinstance(customer, Customer)
    assert (customer.id, customer.name, customer.email) == ("c1", "Patrick", CUSTOMER["email"])
    assert isinstance(customer.balances["messages"], Balance)
    assert customer.balances["messages"].remaining == 60
    assert customer.flags["advanced_workflows"].plan_id == "pro_plan"
    assert customer.subscriptions == CUSTOMER["subscriptions"]
    assert customer.processors == CUSTOMER["processors"]


async def test_unknown_fields_are_ignored_and_wrong_types_refused(server: Recorder) -> None:
    """Lenient in shape (a new field is fine), strict in type (a string balance is not)."""
    server.script = [answer({**ENTITY, "allocations": [{"x": 1}]})]
    async with await client_for(server) as autumn:
        assert isinstance(await autumn.entities.get(customer_id="c1", entity_id="seat_1"), Entity)
        server.script = [answer({**ENTITY, "balances": {"messages": {**BALANCE, "usage": "4"}}})]
        with pytest.raises(ResponseValidationError, match=r"balances\['messages'\].usage"):
            await autumn.entities.get(customer_id="c1", entity_id="seat_1")


@pytest.mark.parametrize(
    ("resource", "method", "arguments"),
    [
        ("customers", "get_or_create", {"customer_id": "c1"}),
        ("customers", "update", {"customer_id": "c1", "name": "P"}),
        ("customers", "delete", {"customer_id": "c1"}),
        ("entities", "create", {"customer_id": "c1", "entity_id": "e1", "feature_id": "seats"}),
        ("entities", "update", {"customer_id": "c1", "entity_id": "e1", "billing_controls": {}}),
        ("entities", "delete", {"customer_id": "c1", "entity_id": "e1"}),
    ],
)
async def test_an_unreadable_answer_to_a_change_carries_its_key(
    server: Recorder, resource: str, method: str, arguments: dict[str, Any]
) -> None:
    """A 2xx that does not fit was applied: the error says so and carries the key it was
    sent under, as for the balance operations (a resend under it cannot double it)."""
    server.script = [answer({"success": "yes", "id": 7, "name": 8})]
    async with await client_for(server) as autumn:
        with pytest.raises(ResponseValidationError) as info:
            await getattr(getattr(autumn, resource), method)(**arguments)
    (sent,) = server.requests
    assert info.value.idempotency_key == sent["headers"]["Idempotency-Key"]
    assert info.value.maybe_applied


async def test_unknown_customer_is_not_found(server: Recorder) -> None:
    """404 customer_not_found is a NotFoundError, never retried."""
    server.script = [answer(NOT_FOUND, status=404)]
    async with await client_for(server) as autumn:
        with pytest.raises(NotFoundError) as info:
            await autumn.customers.get(customer_id="c9")
    assert info.value.code == "customer_not_found"
    assert len(server.requests) == 1


async def test_existing_entity_is_a_conflict(server: Recorder) -> None:
    """409 entity_already_exists is a ConflictError, not a replay."""
    body = {"message": "Entity seat_1 already exists", "code": "entity_already_exists"}
    server.script = [answer(body, status=409)]
    async with await client_for(server) as autumn:
        with pytest.raises(ConflictError) as info:
            await autumn.entities.create(customer_id="c1", entity_id="seat_1", feature_id="seats")
    assert info.value.code == "entity_already_exists"


async def test_a_retried_mutation_reuses_its_idempotency_key(server: Recorder) -> None:
    """A 429 then success: both attempts carry the same Idempotency-Key."""
    server.script = [answer("Too many requests", status=429), answer(CUSTOMER)]
    async with await client_for(server) as autumn:
        await autumn.customers.get_or_create(customer_id="c1")
    keys = [r["headers"]["Idempotency-Key"] for r in server.requests]
    assert len(keys) == 2
    assert keys[0] == keys[1]


async def test_applied_create_whose_answer_was_lost_returns_the_customer(
    server: Recorder,
) -> None:
    """Dropped after sending, then 409 duplicate key: the SDK reads the customer back.

    The first 409 comes while the dropped attempt may still be running, so the pipeline
    asks again once that attempt's timeout has passed (README, Retries); the second
    409 confirms it.
    """
    duplicate = {"message": "duplicate", "code": "duplicate_idempotency_key"}
    server.script = [
        drop_connection(),
        answer(duplicate, status=409),
        answer(duplicate, status=409),
        answer(CUSTOMER),
    ]
    async with await client_for(server) as autumn:
        customer = await autumn.customers.get_or_create(customer_id="c1", timeout=2)
    assert customer.id == "c1"
    paths = [r["path"] for r in server.requests]
    assert paths[-1] == "/v1/customers.get"
    assert server.requests[-1]["body"] == {"customer_id": "c1"}


async def test_lost_delete_answer_is_reported_as_replayed(server: Recorder) -> None:
    """A delete confirmed by 409 duplicate key after a drop has replayed=True.

    The first 409 may come while the dropped attempt still runs; the second, asked after
    that attempt's timeout, confirms it.
    """
    duplicate = {"message": "duplicate", "code": "duplicate_idempotency_key"}
    server.script = [
        drop_connection(),
        answer(duplicate, status=409),
        answer(duplicate, status=409),
    ]
    async with await client_for(server) as autumn:
        result = await autumn.entities.delete(customer_id="c1", entity_id="seat_1", timeout=2)
    assert (result.success, result.replayed) == (True, True)


async def test_cursor_pages_from_api_version_2_3(server: Recorder) -> None:
    """At 2.3 list sends start_cursor and reads next_cursor; page.more follows it."""
    server.script = [answer({"list": [CUSTOMER], "next_cursor": "eyJ2IjowfQ"})]
    async with await client_for(server, version="2.3") as autumn:
        page = await autumn.customers.list(start_cursor="", limit=1, sort_order="asc")
    assert server.requests[0]["body"] == {"start_cursor": "", "limit": 1, "sort_order": "asc"}
    assert page.next_cursor == "eyJ2IjowfQ"
    assert page.more


async def test_track_sends_timestamp_and_overage_behavior(server: Recorder) -> None:
    """track's newer parameters reach the wire under their API names."""
    server.script = [answer({"customer_id": "c1", "value": 1, "balance": None})]
    async with await client_for(server) as autumn:
        await autumn.balances.track(
            customer_id="c1",
            feature_id="messages",
            timestamp=1_700_000_000_000,
            overage_behavior="overflow",
        )
    body = server.requests[0]["body"]
    assert (body["timestamp"], body["overage_behavior"]) == (1_700_000_000_000, "overflow")
