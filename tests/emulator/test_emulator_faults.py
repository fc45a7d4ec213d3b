"""Fault injection and the admin routes under /_emulator/."""

from __future__ import annotations

import time

import aiohttp
import pytest
from emulator_support import Api, grant

from autumn_emulator import Emulator

TRACK = "/v1/balances.track"


async def test_status_fault_503_has_retry_after_1_and_changes_nothing(
    api: Api, emu: Emulator
) -> None:
    """A 503 fault answers internal_error with Retry-After: 1 without processing."""
    await grant(api)
    emu.set_fault(TRACK, "status", status=503)
    reply = await api.track(feature_id="messages")
    assert (reply.status, reply.json["code"], reply.headers["Retry-After"]) == (
        503,
        "internal_error",
        "1",
    )
    assert emu.ledger() == []


async def test_status_fault_429_is_plain_text_with_retry_after(api: Api, emu: Emulator) -> None:
    """A 429 fault answers the rate limiter's text body and the configured Retry-After."""
    emu.set_fault(TRACK, "status", status=429, retry_after=0)
    reply = await api.track(feature_id="messages")
    assert reply.status == 429
    assert reply.text == "Too many requests, please try again later."
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert reply.headers["Retry-After"] == "0"


async def test_fault_count_limits_how_often_it_fires(api: Api, emu: Emulator) -> None:
    """A fault with count=2 applies to the next two requests only."""
    await grant(api)
    emu.set_fault(TRACK, "status", status=500, count=2)
    statuses = [(await api.track(feature_id="messages")).status for _ in range(3)]
    assert statuses == [500, 500, 200]


async def test_seeded_probability_is_repeatable(api: Api, emu: Emulator) -> None:
    """The same seed and probability fault the same requests every run."""
    await grant(api, amount=1000)
    runs = []
    for _ in range(2):
        emu.clear_faults()
        emu.set_fault(TRACK, "status", status=502, probability=0.5, seed=7)
        runs.append([(await api.track(feature_id="messages")).status for _ in range(12)])
    assert runs[0] == runs[1]
    assert {200, 502} == set(runs[0])


async def test_latency_fault_delays_the_answer(api: Api, emu: Emulator) -> None:
    """A latency fault delays the response and then processes the request normally."""
    await grant(api)
    emu.set_fault(TRACK, "latency", latency_ms=150)
    started = time.monotonic()
    reply = await api.track(feature_id="messages")
    assert time.monotonic() - started >= 0.15
    assert reply.status == 200


async def test_drop_before_disconnects_and_leaves_ledger_unchanged(api: Api, emu: Emulator) -> None:
    """drop_before closes the connection without applying anything."""
    await grant(api)
    emu.set_fault(TRACK, "drop_before")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.track(feature_id="messages", idempotency_key="d1")
    assert emu.ledger() == []
    emu.clear_faults()
    assert (await api.track(feature_id="messages", idempotency_key="d1")).status == 200


async def test_drop_after_applies_then_disconnects(api: Api, emu: Emulator) -> None:
    """drop_after applies the change, then drops; a retry with the same key is 409."""
    await grant(api)
    emu.set_fault(TRACK, "drop_after", count=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.track(feature_id="messages", idempotency_key="d2")
    assert [e["idempotency_key"] for e in emu.ledger()] == ["d2"]
    retry = await api.track(feature_id="messages", idempotency_key="d2")
    assert (retry.status, retry.json["code"]) == (409, "duplicate_idempotency_key")


async def test_faults_via_admin_routes(api: Api) -> None:
    """POST and DELETE /_emulator/faults add and clear faults; bad bodies are 400."""
    added = await api.post("/_emulator/faults", {"route": "*", "kind": "status", "status": 502})
    assert added.status == 200
    assert (await api.check(feature_id="messages")).status == 502
    async with api.session.delete(api.base + "/_emulator/faults") as response:
        assert response.status == 200
    assert (await api.check(feature_id="messages")).status == 200
    bad = await api.post("/_emulator/faults", {"route": TRACK, "kind": "explode"})
    assert (bad.status, bad.json["code"]) == (400, "invalid_inputs")


async def test_stats_count_requests_per_route(api: Api, emu: Emulator) -> None:
    """GET /_emulator/stats counts every /v1 request by route, faulted ones included."""
    emu.set_fault(TRACK, "status", status=503, count=1)
    await api.track(feature_id="messages")
    await api.track(feature_id="messages")
    await api.check(feature_id="messages")
    stats = (await api.get("/_emulator/stats")).json
    assert stats["requests"] == {TRACK: 2, "/v1/balances.check": 1}
    assert stats["total"] == 3
    assert emu.stats() == stats["requests"]


async def test_admin_routes_seed_and_read_state(api: Api) -> None:
    """Features, customers and balances can be seeded and read back over HTTP."""
    feature = {"id": "words", "type": "metered", "event_names": ["w"]}
    assert (await api.post("/_emulator/features", feature)).status == 200
    customer = await api.post("/_emulator/customers", {"id": "c2", "entities": ["e1"]})
    assert customer.json["entities"] == [{"id": "e1"}]
    seeded = await api.post(
        "/_emulator/balances", {"customer_id": "c2", "feature_id": "words", "included_grant": 9}
    )
    assert seeded.json["remaining"] == 9
    await api.track(customer_id="c2", event_name="w", properties={"n": 1})
    balances = (await api.get("/_emulator/balances?customer_id=c2")).json
    assert balances["balances"]["words"]["remaining"] == 8
    ledger = (await api.get("/_emulator/ledger")).json
    assert ledger == {
        "events": [
            {
                "customer_id": "c2",
                "feature_id": "words",
                "entity_id": None,
                "value": 1,
                "idempotency_key": None,
                "properties": {"n": 1},
            }
        ]
    }
    missing = await api.get("/_emulator/balances?customer_id=nobody")
    assert (missing.status, missing.json["code"]) == (404, "customer_not_found")


async def test_admin_reset_clears_everything(api: Api, emu: Emulator) -> None:
    """POST /_emulator/reset forgets features, customers, ledger, faults and counters."""
    await grant(api)
    await api.track(feature_id="messages")
    emu.set_fault(TRACK, "latency", latency_ms=1)
    assert (await api.post("/_emulator/reset", {})).json == {"success": True}
    assert (emu.ledger(), emu.stats(), emu.state.features) == ([], {}, {})
    reply = await api.track(feature_id="messages")
    assert reply.json["code"] == "feature_not_found"


async def test_admin_clock_advances_time(api: Api, emu: Emulator) -> None:
    """POST /_emulator/clock moves the emulator's clock forward."""
    before = emu.state.now()
    reply = await api.post("/_emulator/clock", {"advance_ms": 5000})
    assert reply.json["now"] == before + 5000


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ({"route": "/v1/balances.create", "status": 202}, "202 is answered only by"),
        ({"route": TRACK, "kind": "error_after", "status": 404}, "error_after answers a 5xx"),
        ({"route": TRACK, "kind": "in_flight", "drop": "yes"}, "drop: must be a boolean"),
    ],
)
async def test_fault_options_are_validated(
    api: Api, fault: dict[str, object], problem: str
) -> None:
    """A 202 off check/track, a non-5xx error_after or a non-boolean flag is 400."""
    reply = await api.post("/_emulator/faults", fault)
    assert (reply.status, reply.json["code"]) == (400, "invalid_inputs")
    assert problem in reply.json["message"]


async def test_gateway_fault_answers_html_without_autumn_json(api: Api, emu: Emulator) -> None:
    """gateway: true answers a proxy's HTML 502: no JSON body, nothing processed."""
    await grant(api)
    emu.set_fault(TRACK, "status", status=502, gateway=True)
    reply = await api.track(feature_id="messages")
    assert reply.status == 502
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "Bad Gateway" in reply.text
    assert emu.ledger() == []


async def test_in_flight_drop_resets_the_client_and_keeps_the_key(api: Api, emu: Emulator) -> None:
    """in_flight with drop: the client's connection is reset while the request holds its key."""
    await grant(api)
    emu.set_fault(TRACK, "in_flight", latency_ms=300, drop=True, count=1)
    with pytest.raises(aiohttp.ClientError):
        await api.track(feature_id="messages", idempotency_key="d1")
    reply = await api.track(feature_id="messages", idempotency_key="d1")
    assert (reply.status, reply.json["code"]) == (409, "duplicate_idempotency_key")
