"""The emulator's HTTP contract: auth, version header, validation, error bodies, idempotency."""

from __future__ import annotations

import json
from pathlib import Path

from emulator_support import KEY, Api, FakeClock, grant

from autumn_emulator import Emulator

EXAMPLES = Path(__file__).parent.parent / "fixtures" / "examples"


def example(name: str) -> object:
    """One of the spec's example bodies."""
    return json.loads((EXAMPLES / name).read_text())


async def test_missing_authorization_is_401_no_secret_key(api: Api) -> None:
    """A request without a Bearer header gets the spec's no_secret_key body."""
    reply = await api.post("/v1/balances.check", {}, auth=False)
    assert reply.status == 401
    assert reply.json == example("error_no_secret_key_401.json")


async def test_non_bearer_authorization_is_401_no_secret_key(api: Api) -> None:
    """An Authorization header that is not Bearer counts as missing."""
    reply = await api.post("/v1/balances.check", {}, auth=False, headers={"Authorization": KEY})
    assert (reply.status, reply.json["code"]) == (401, "no_secret_key")


async def test_unknown_key_is_401_invalid_secret_key_without_echoing_it(api: Api) -> None:
    """A wrong key is rejected and the message masks it."""
    wrong = "am_sk_test_wrongwrongwrong"
    reply = await api.post(
        "/v1/balances.check", {}, auth=False, headers={"Authorization": f"Bearer {wrong}"}
    )
    assert (reply.status, reply.json["code"], reply.json["env"]) == (
        401,
        "invalid_secret_key",
        "sandbox",
    )
    assert wrong not in reply.text


async def test_live_key_reports_live_env() -> None:
    """Errors for a request made with a non-test key carry env "live"."""
    import aiohttp

    async with Emulator(secret_key="am_sk_live_abc") as emu, aiohttp.ClientSession() as session:
        reply = await Api(session, emu.url).post("/v1/balances.check", {})
        assert reply.status == 401  # the helper sends the test key
        headers = {"Authorization": "Bearer am_sk_live_abc", "x-api-version": "2.1"}
        async with session.post(emu.url + "/v1/balances.check", json={}, headers=headers) as r:
            assert (r.status, (await r.json())["env"]) == (400, "live")


async def test_api_version_forms_are_accepted(api: Api) -> None:
    """ "2.1", "2", semver and registered CalVer versions all pass the version check.

    Follows ``shared/api/versionUtils/convertVersionUtils.ts`` (``parseVersion``): a CalVer
    date is accepted only if ``versionRegistry.ts`` names it (2026-03-17 is 2.1).
    """
    await grant(api)
    for version in ("2.1", "2", "2.1.0", "2026-03-17"):
        reply = await api.check(feature_id="messages", headers={"x-api-version": version})
        assert reply.status == 200, (version, reply.text)


async def test_garbage_api_version_is_400_invalid_api_version(api: Api) -> None:
    """An unknown version gets the spec's invalid_api_version body."""
    reply = await api.post("/v1/balances.check", {}, headers={"x-api-version": "2.9"})
    assert reply.status == 400
    assert reply.json == example("error_invalid_api_version_400.json")
    reply = await api.post("/v1/balances.check", {}, headers={"x-api-version": "banana"})
    assert reply.json["code"] == "invalid_api_version"


async def test_missing_fields_give_zod_like_invalid_inputs(api: Api) -> None:
    """Missing required fields are listed in one 400 invalid_inputs message."""
    reply = await api.post("/v1/balances.check", {})
    assert reply.status == 400
    assert reply.json == example("error_validation_400.json")


async def test_single_problem_message_has_no_prefix(api: Api) -> None:
    """One problem is reported as "<path>: <message>"."""
    reply = await api.track(feature_id="messages", value="3")
    assert reply.json["message"] == "value: must be a number (received string)"


async def test_non_json_body_is_treated_as_empty_object(api: Api) -> None:
    """A body that is not JSON is validated as {}."""
    reply = await api.post("/v1/balances.track", raw=b"not json")
    assert reply.status == 400
    assert reply.json["message"].startswith("[Validation Errors] customer_id: must be a string")


async def test_deeply_nested_body_is_400_like_any_unparsable_body(api: Api) -> None:
    """JSON nested past Python's parser is unparsable: validated as {} (400), never a 500.

    Issue 12 item 19: a 500 here made the SDK retry a request the server refuses.
    """
    for route in ("track", "check", "create", "update"):
        for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
            reply = await api.post(f"/v1/balances.{route}", raw=raw)
            assert reply.status == 400, (route, reply.text[:200])
            assert reply.json["code"] == "invalid_inputs"


async def test_unknown_keys_are_ignored(api: Api) -> None:
    """Extra body keys are dropped, as zod's non-strict objects do."""
    await grant(api)
    reply = await api.track(feature_id="messages", surprise={"x": 1})
    assert reply.status == 200


async def test_track_needs_exactly_one_of_feature_or_event(api: Api) -> None:
    """Track without feature_id and event_name (or with both) is 400 invalid_inputs."""
    reply = await api.track()
    assert (reply.status, reply.json["code"]) == (400, "invalid_inputs")
    assert "Either feature_id or event_name must be provided" in reply.json["message"]
    reply = await api.track(feature_id="messages", event_name="ai_request")
    assert reply.status == 400


async def test_update_current_balance_wins_over_add_to_balance(api: Api, emu: Emulator) -> None:
    """current_balance with add_to_balance is accepted and the target wins.

    ``server/src/internal/balances/handlers/handleUpdateBalance.ts`` validates with
    ``.extend({})``, which drops the schema's refinements, and
    ``runDeductionOnContextV2.lua`` ignores the addition when a target is set (§17.3).
    """
    await grant(api, amount=10)
    reply = await api.update(feature_id="messages", current_balance=5, add_to_balance=1)
    assert reply.status == 200
    assert emu.balances("c1")["messages"]["remaining"] == 5


async def test_unknown_feature_is_404_feature_not_found(api: Api) -> None:
    """A feature id that is not defined gets the spec's 404 body."""
    reply = await api.check(feature_id="messagez", customer_id="cus_123")
    assert reply.status == 404
    assert reply.json == example("error_feature_not_found_404.json")


async def test_unknown_customer_is_404_customer_not_found(api: Api) -> None:
    """Check and track do not create customers at version 2.1."""
    reply = await api.check(feature_id="messages", customer_id="cus_123")
    assert reply.status == 404
    assert reply.json == example("error_customer_not_found_404.json")
    reply = await api.track(feature_id="messages", customer_id="cus_123")
    assert reply.json["code"] == "customer_not_found"


async def test_unknown_entity_is_404_entity_not_found(api: Api) -> None:
    """An entity the customer does not have is 404 entity_not_found."""
    reply = await api.check(feature_id="messages", entity_id="seat_9")
    assert (reply.status, reply.json["code"]) == (404, "entity_not_found")


async def test_unknown_event_name_is_404_invalid_request(api: Api) -> None:
    """An event name no feature lists is 404 invalid_request."""
    reply = await api.track(event_name="nope")
    assert (reply.status, reply.json["code"]) == (404, "invalid_request")
    assert reply.json["message"] == "No features found for event name: nope"


async def test_auto_create_customers_option_creates_on_check() -> None:
    """With auto_create_customers, check creates an unknown customer instead of 404."""
    import aiohttp

    async with Emulator(secret_key=KEY, auto_create_customers=True) as emu:
        await emu.add_feature("messages")
        async with aiohttp.ClientSession() as session:
            reply = await Api(session, emu.url).check(customer_id="new", feature_id="messages")
        assert (reply.status, reply.json["allowed"]) == (200, False)
        assert "new" in emu.state.customers


async def test_versions_before_2_1_auto_create_customers(api: Api) -> None:
    """At version 2.0 check still auto-creates the customer, as the older server did."""
    reply = await api.check(
        customer_id="old", feature_id="messages", headers={"x-api-version": "2.0"}
    )
    assert reply.status == 200


async def test_customers_route_gets_or_creates(api: Api) -> None:
    """POST /v1/customers creates once and then returns the same customer."""
    first = await api.post("/v1/customers", {"id": "c9", "name": "Nine"})
    again = await api.post("/v1/customers", {"id": "c9"})
    assert first.status == again.status == 200
    assert again.json["id"] == "c9"
    assert again.json["name"] == "Nine"
    assert again.json["created_at"] == first.json["created_at"]


async def test_body_idempotency_key_conflicts_with_409(api: Api, emu: Emulator) -> None:
    """A repeated track idempotency_key is 409 and deducts nothing."""
    await grant(api)
    assert (await api.track(feature_id="messages", idempotency_key="evt_abc123")).status == 200
    reply = await api.track(feature_id="messages", idempotency_key="evt_abc123")
    assert reply.status == 409
    assert reply.json == {**example("error_duplicate_idempotency_key_409.json"), "env": "sandbox"}
    assert emu.balances("c1")["messages"]["usage"] == 1
    assert len(emu.ledger()) == 1


async def test_header_idempotency_key_is_a_separate_claim(api: Api) -> None:
    """The Idempotency-Key header conflicts on repeat, independently of the body key."""
    await grant(api)
    headers = {"Idempotency-Key": "h1"}
    first = await api.track(feature_id="messages", idempotency_key="h1", headers=headers)
    assert first.status == 200
    reply = await api.check(feature_id="messages", headers=headers)
    assert (reply.status, reply.json["code"]) == (409, "duplicate_idempotency_key")
    assert reply.json["message"] == (
        "Another request with idempotency key h1 has already been received"
    )


async def test_keys_are_released_when_the_request_fails(api: Api) -> None:
    """A failed request frees its keys so that the retry goes through."""
    headers = {"Idempotency-Key": "h2"}
    failed = await api.track(customer_id="ghost", feature_id="messages", idempotency_key="k2")
    assert failed.status == 404
    failed = await api.post("/v1/balances.create", {}, headers=headers)
    assert failed.status == 400
    await grant(api)
    retried = await api.track(feature_id="messages", idempotency_key="k2", headers=headers)
    assert retried.status == 200


async def test_idempotency_keys_expire_after_24_hours(api: Api, clock: FakeClock) -> None:
    """A key can be reused once its 24 h TTL has passed on the injected clock."""
    await grant(api)
    assert (await api.track(feature_id="messages", idempotency_key="ttl")).status == 200
    clock.now += 24 * 3600 * 1000 - 1
    assert (await api.track(feature_id="messages", idempotency_key="ttl")).status == 409
    clock.now += 1
    assert (await api.track(feature_id="messages", idempotency_key="ttl")).status == 200


async def test_batch_track_applies_every_item(api: Api, emu: Emulator) -> None:
    """A batch answers {"success": true} and deducts each item."""
    await grant(api)
    items = [{"customer_id": "c1", "feature_id": "messages", "value": 2}] * 3
    reply = await api.post("/v1/balances.batch_track", items)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert emu.balances("c1")["messages"]["remaining"] == 94
    assert len(emu.ledger()) == 3


async def test_batch_track_fails_whole_request_on_invalid_item(api: Api, emu: Emulator) -> None:
    """One invalid item fails the batch before anything is applied."""
    await grant(api)
    items = [
        {"customer_id": "c1", "feature_id": "messages"},
        {"customer_id": "c1", "feature_id": "messagez"},
    ]
    reply = await api.post("/v1/balances.batch_track", items)
    assert (reply.status, reply.json["code"]) == (404, "feature_not_found")
    reply = await api.post("/v1/balances.batch_track", [{"customer_id": "c1"}, {"value": 1}])
    assert (reply.status, reply.json["code"]) == (400, "invalid_inputs")
    assert "1.customer_id: must be a string (received undefined)" in reply.json["message"]
    assert emu.ledger() == []


async def test_batch_track_size_limits(api: Api) -> None:
    """A batch must be an array of 1 to 1000 items."""
    item = {"customer_id": "c1", "feature_id": "messages"}
    for body in ([], [item] * 1001, item):
        reply = await api.post("/v1/balances.batch_track", body)
        assert (reply.status, reply.json["code"]) == (400, "invalid_inputs")


async def test_batch_track_skips_duplicate_item_keys_silently(api: Api, emu: Emulator) -> None:
    """An item whose key was already claimed is skipped, and the batch still succeeds."""
    await grant(api)
    assert (await api.track(feature_id="messages", idempotency_key="b1")).status == 200
    items = [
        {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "b1"},
        {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "b2"},
        {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "b2"},
    ]
    reply = await api.post("/v1/balances.batch_track", items)
    assert reply.status == 200
    assert [e["idempotency_key"] for e in emu.ledger()] == ["b1", "b2"]
