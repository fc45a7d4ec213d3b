"""The fleet's wire format and reply parsing, without Redis."""

from __future__ import annotations

import logging

import pytest

from autumn_async import UsageError
from autumn_async._fleet._codec import (
    MAX_ENTRY_BYTES,
    MAX_EVENTS,
    MalformedEntryError,
    account_fingerprint,
    decode_entry,
    encode_entry,
    split_burst,
)
from autumn_async._fleet._report import check_server
from autumn_async._fleet._spool import SpooledEvent

from .conftest import event


def flat(fields: dict[str, bytes | str]) -> list[bytes]:
    """Fields as Redis returns them: a flat list of bytes."""
    out: list[bytes] = []
    for k, v in fields.items():
        out += [k.encode(), v if isinstance(v, bytes) else v.encode()]
    return out


def test_entry_round_trip_keeps_keys_bodies_and_times() -> None:
    """An entry decodes to the very events that were encoded, in order."""
    events = [event(value=i) for i in range(5)]
    k, t, b = encode_entry(events)
    entry = decode_entry(b"1-0", flat({"v": "1", "a": "acct", "k": k, "t": t, "b": b}))
    assert entry.events == events
    assert entry.account == "acct"


def test_bursts_are_cut_at_1000_events_and_1_mib() -> None:
    """No entry holds more than 1,000 events or (much) more than 1 MiB."""
    assert [len(c) for c in split_burst([event() for _ in range(2500)])] == [1000, 1000, 500]
    big = SpooledEvent(key="k", body=b"x" * (MAX_ENTRY_BYTES // 3), created_at=0.0)
    chunks = split_burst([big] * 7)
    assert all(sum(len(e.body) for e in c) <= MAX_ENTRY_BYTES for c in chunks)
    assert sum(len(c) for c in chunks) == 7
    assert max(len(c) for c in split_burst([event()] * MAX_EVENTS)) == MAX_EVENTS


def test_a_newline_in_a_body_is_refused() -> None:
    """A raw newline would shift events onto the wrong keys, so it never gets written."""
    with pytest.raises(ValueError, match="newlines"):
        encode_entry([SpooledEvent(key="k", body=b"{\n}", created_at=0.0)])


def test_unknown_schema_is_malformed() -> None:
    """An entry from a newer writer is reported, not misread."""
    with pytest.raises(MalformedEntryError):
        decode_entry(b"1-0", flat({"v": "2", "k": "a"}))
    with pytest.raises(MalformedEntryError):
        decode_entry(b"1-0", flat({"v": "1", "a": "x", "k": "a\nb", "t": "1", "b": "{}"}))


def test_account_fingerprint_hides_the_key() -> None:
    """The fingerprint is stable, differs per key and server, and contains neither."""
    a = account_fingerprint("https://api.useautumn.com/", "am_sk_live_secret")
    assert a == account_fingerprint("https://api.useautumn.com", "am_sk_live_secret")
    assert a != account_fingerprint("https://api.useautumn.com", "am_sk_live_other")
    assert "secret" not in a


def test_server_check(caplog: pytest.LogCaptureFixture) -> None:
    """Redis < 6.2 is refused; no AOF, eviction and replicas are warned about."""
    with pytest.raises(UsageError, match="6.2"):
        check_server({"redis_version": "6.0.16"})
    caplog.set_level(logging.WARNING, "autumn_balances.fleet")
    check_server(
        {
            "redis_version": "7.2.4",
            "aof_enabled": 0,
            "maxmemory_policy": "allkeys-lru",
            "role": "slave",
        }
    )
    text = " ".join(r.message for r in caplog.records)
    assert "appendonly" in text
    assert "noeviction" in text
    assert "replica" in text
    caplog.clear()
    check_server({"redis_version": "6.2.14", "aof_enabled": 1, "role": "master"})
    assert caplog.records == []


def test_importing_the_packages_does_not_import_redis() -> None:
    """redis is imported only when RedisSpool is first used."""
    import subprocess
    import sys

    code = (
        "import sys, autumn_async, autumn_sync, autumn_async.fleet, autumn_async._fleet\n"
        "assert 'redis' not in sys.modules\n"
        "assert autumn_async.RedisSpool is autumn_sync.RedisSpool\n"
        "assert 'redis' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_repr_hides_the_redis_password() -> None:
    """A RedisSpool's repr never shows the password in its URL."""
    from autumn_async._fleet._redis_spool import RedisSpool

    spool = RedisSpool("redis://worker:s3cret-pass@redis.internal:6379/0")
    assert "s3cret" not in repr(spool)
    assert "redis.internal:6379" in repr(spool)
