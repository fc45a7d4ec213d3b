"""batch_track accepts events it will later drop (issue 13 item 5, spec §17.7).

Follows ``server/src/internal/balances/track/runBatchTrack.ts`` (only features and event
names are checked up front) and ``server/src/queue/processMessage.ts`` (a queued track
that fails with ``customer_not_found`` is not retried: the event is gone, and nobody is
told). The emulator lists such events under ``GET /_emulator/dropped``.
"""

from __future__ import annotations

import aiohttp

from autumn_emulator import Emulator

from ..conftest import SECRET

BATCH = "/v1/balances.batch_track"


async def post(emu: Emulator, path: str, body: object) -> tuple[int, object]:
    """POST ``body`` to the emulator with the test key; return (status, json)."""
    headers = {"Authorization": f"Bearer {SECRET}", "x-api-version": "2.1"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(emu.url + path, json=body, headers=headers) as reply,
    ):
        return reply.status, await reply.json()


async def test_unknown_customers_and_entities_are_accepted_then_dropped(emu: Emulator) -> None:
    """The batch succeeds; events of unknown customers or entities are dropped, the rest land."""
    await emu.add_balance(customer_id="c1", feature_id="messages", included_grant=100)
    items = [
        {"customer_id": "c1", "feature_id": "messages", "value": 1, "idempotency_key": "a"},
        {"customer_id": "ghost", "feature_id": "messages", "value": 2, "idempotency_key": "b"},
        {"customer_id": "c1", "entity_id": "seat_9", "feature_id": "messages", "value": 3},
    ]
    assert await post(emu, BATCH, items) == (200, {"success": True})
    assert [event["value"] for event in emu.ledger()] == [1]
    dropped = [(e["customer_id"], e["entity_id"], e["value"], e["code"]) for e in emu.dropped()]
    assert dropped == [
        ("ghost", None, 2, "customer_not_found"),
        ("c1", "seat_9", 3, "entity_not_found"),
    ]
    assert emu.dropped()[0]["idempotency_key"] == "b"


async def test_dropped_events_are_listed_on_the_admin_route(emu: Emulator) -> None:
    """GET /_emulator/dropped lists what the worker dropped; reset clears it."""
    await post(emu, BATCH, [{"customer_id": "ghost", "feature_id": "messages"}])
    async with (
        aiohttp.ClientSession() as session,
        session.get(emu.url + "/_emulator/dropped") as reply,
    ):
        body = await reply.json()
    assert [(e["source"], e["customer_id"], e["code"]) for e in body["events"]] == [
        ("batch_track", "ghost", "customer_not_found")
    ]
    emu.reset()
    assert emu.dropped() == []


async def test_an_unknown_feature_still_fails_the_whole_batch(emu: Emulator) -> None:
    """Features are checked up front: one unknown feature refuses the batch, nothing queued."""
    items = [
        {"customer_id": "ghost", "feature_id": "messages"},
        {"customer_id": "c1", "feature_id": "nope"},
    ]
    status, body = await post(emu, BATCH, items)
    assert (status, body["code"]) == (404, "feature_not_found")  # type: ignore[index]
    assert (emu.ledger(), emu.dropped()) == ([], [])
