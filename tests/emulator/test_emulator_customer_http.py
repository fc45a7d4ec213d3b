"""The customer and entity routes' raw HTTP: validation errors, idempotency, entity lookup.

Error messages follow ``shared/api/common/customerId.ts``, ``customerData.ts`` (email) and
``server/src/internal/entities/actions/findCustomer.ts`` (lookup without customer_id).
"""

from __future__ import annotations

from emulator_support import Api


async def test_customer_ids_are_validated_like_the_server(api: Api) -> None:
    """A customer id with a period is 400 invalid_inputs with the server's wording."""
    reply = await api.post("/v1/customers.get_or_create", {"customer_id": "a.b"})
    assert reply.status == 400
    assert reply.json["code"] == "invalid_inputs"
    assert "cannot contain periods" in reply.json["message"]


async def test_bad_email_is_refused(api: Api) -> None:
    """An email that is not one is 400."""
    reply = await api.post("/v1/customers.get_or_create", {"customer_id": "c2", "email": "x"})
    assert (reply.status, reply.json["code"]) == (400, "invalid_inputs")
    assert "email" in reply.json["message"]


async def test_get_or_create_honours_the_idempotency_key(api: Api) -> None:
    """A repeated Idempotency-Key is 409 duplicate_idempotency_key, as for balance calls."""
    headers = {"Idempotency-Key": "key-1"}
    first = await api.post("/v1/customers.get_or_create", {"customer_id": "c2"}, headers=headers)
    again = await api.post("/v1/customers.get_or_create", {"customer_id": "c2"}, headers=headers)
    assert first.status == 200
    assert (again.status, again.json["code"]) == (409, "duplicate_idempotency_key")


async def test_entity_lookup_without_customer_id(api: Api) -> None:
    """Without customer_id the owner is found by entity id; an unknown entity is a 500."""
    found = await api.post("/v1/entities.get", {"entity_id": "seat_1"})
    assert (found.status, found.json["customer_id"]) == (200, "c1")
    missing = await api.post("/v1/entities.get", {"entity_id": "nope"})
    assert missing.status == 500


async def test_seeded_customer_is_readable(api: Api) -> None:
    """A customer seeded through the admin route is what customers.get returns."""
    reply = await api.post("/v1/customers.get", {"customer_id": "c1", "expand": ["entities"]})
    assert reply.status == 200
    body = reply.json
    assert (body["id"], body["env"], body["metadata"], body["balances"]) == (
        "c1",
        "sandbox",
        {},
        {},
    )
    assert [e["id"] for e in body["entities"]] == ["seat_1", "seat_2"]
