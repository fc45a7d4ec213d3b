"""A consumer's claims without Redis: hand-out, settling, verdicts on redelivery."""

from __future__ import annotations

import time

from autumn_async._fleet._claims import DEDUPE_WINDOW, Claims, redelivery_verdict
from autumn_async._fleet._codec import SCHEMA_VERSION, encode_entry
from autumn_async._fleet._spool import SpooledEvent

from .conftest import event


def raw(
    entry_id: bytes, events: list[SpooledEvent], account: str = "acct"
) -> tuple[bytes, list[bytes]]:
    """An entry as XREADGROUP returns it."""
    k, t, b = encode_entry(events)
    return entry_id, [b"v", SCHEMA_VERSION, b"a", account.encode(), b"k", k.encode(),
                      b"t", t.encode(), b"b", b]  # fmt: skip


def test_an_entry_finishes_when_its_last_event_settles() -> None:
    """Settling part of an entry finishes nothing; the last key finishes it, dead or not."""
    claims = Claims("acct", max_deliveries=10, clock=time.time)
    events = [event() for _ in range(3)]
    assert claims.add([raw(b"1-0", events)], {}) == ([], [])
    assert claims.take(10) == events
    assert claims.settle([events[0].key], {}, ()) == []
    [held] = claims.settle([events[1].key], {events[2].key: "rejected:400:x"}, ())
    assert held.entry.id == b"1-0"
    assert held.dead == {events[2].key: "rejected:400:x"}


def test_the_same_key_in_two_entries_is_sent_once_and_settles_both() -> None:
    """A requeued copy of a held event is not handed out twice."""
    claims = Claims("acct", max_deliveries=10, clock=time.time)
    e = event()
    claims.add([raw(b"1-0", [e]), raw(b"2-0", [e])], {})
    assert claims.take(10) == [e]
    finished = claims.settle([e.key], {}, ())
    assert sorted(h.entry.id for h in finished) == [b"1-0", b"2-0"]


def test_other_accounts_entries_are_returned_untouched() -> None:
    """An entry of another account is neither held nor handed out."""
    claims = Claims("acct", max_deliveries=10, clock=time.time)
    foreign, finished = claims.add([raw(b"1-0", [event()], account="other")], {})
    assert [f.account for f in foreign] == ["other"]
    assert (finished, claims.take(10), claims.held) == ([], [], {})


def test_redelivery_verdicts() -> None:
    """First deliveries always go out; redeliveries stop at the cap and the 23 h window."""
    now = 1_000_000.0
    old = now - DEDUPE_WINDOW - 1
    assert redelivery_verdict(1, old, now, 10) is None
    assert redelivery_verdict(2, old, now, 10) == "dedupe_window_expired"
    assert redelivery_verdict(2, now - 60, now, 10) is None
    assert redelivery_verdict(11, now, now, 10) == "poison"
