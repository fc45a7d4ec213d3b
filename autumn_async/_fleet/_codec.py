"""The fleet's wire format on Redis: entries, replies and the server-side scripts (pure).

A work entry in the stream ``{autumn}:usage`` is one producer burst::

    v  schema version ("1")
    a  account fingerprint (hash of server URL and secret key; never the key)
    k  the events' idempotency keys, one per line
    t  the events' created_at (Unix seconds), one per line
    b  the events' JSON bodies, one per line (compact JSON has no raw newline)

at most :data:`MAX_EVENTS` events and about :data:`MAX_ENTRY_BYTES` bytes. Three fields
for a whole burst (rather than two per event) keep the producer's cost per event to a
few byte copies. A dead letter in ``{autumn}:usage:dead`` is one event with its reason.
Nothing here imports redis; :mod:`._redis_spool` sends what this builds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import attrs

from ._spool import SpooledEvent, account_fingerprint

__all__ = [
    "MAX_ENTRY_BYTES",
    "MAX_EVENTS",
    "SCHEMA_VERSION",
    "DeadLetter",
    "Entry",
    "MalformedEntryError",
    "account_fingerprint",
    "decode_entry",
    "encode_entry",
    "parse_dead_letter",
    "parse_entries",
    "put_args",
    "reason_kind",
    "split_burst",
]

SCHEMA_VERSION = b"1"
#: ``balances.batch_track`` takes at most 1,000 events; an entry is one such request.
MAX_EVENTS = 1000
#: Redis handles large values, but a 1 MiB cap keeps one entry one cheap round trip.
MAX_ENTRY_BYTES = 1 << 20


class MalformedEntryError(ValueError):
    """A stream entry this version cannot read (a poison entry: it is dead-lettered)."""


@attrs.frozen
class Entry:
    """One work entry read back from the stream."""

    id: bytes
    account: str
    events: list[SpooledEvent]


@attrs.frozen
class DeadLetter:
    """One dead-lettered event: where it came from and why it failed for good."""

    id: str
    key: str
    reason: str
    body: str
    created_at: float
    account: str
    source: str
    dead_at: float
    #: Why it cannot be requeued (unreadable, no key, a malformed event), else ``None``.
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The dead letter as a JSON-ready dict (``dead-letters list --json``)."""
        return attrs.asdict(self)


def split_burst(events: Sequence[SpooledEvent]) -> list[Sequence[SpooledEvent]]:
    """Cut a burst into entries of at most 1,000 events and about 1 MiB each."""
    if len(events) <= MAX_EVENTS:
        size = sum(len(e.body) for e in events)
        if size <= MAX_ENTRY_BYTES:
            return [events]
    chunks: list[Sequence[SpooledEvent]] = []
    current: list[SpooledEvent] = []
    size = 0
    for event in events:
        grow = len(event.body) + len(event.key) + 24
        if current and (len(current) >= MAX_EVENTS or size + grow > MAX_ENTRY_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(event)
        size += grow
    if current:
        chunks.append(current)
    return chunks


def encode_entry(events: Sequence[SpooledEvent]) -> tuple[str, str, bytes]:
    """The ``k``, ``t`` and ``b`` fields of one work entry (see the module docstring)."""
    keys_text = "\n".join([e.key for e in events])
    bodies_blob = b"\n".join([e.body for e in events])
    # One scan each, in C: a newline would shift every later event onto the wrong key.
    n = len(events) - 1
    if keys_text.count("\n") != n or bodies_blob.count(b"\n") != n:
        raise ValueError("spooled keys and bodies must not contain newlines")
    return keys_text, "\n".join([repr(e.created_at) for e in events]), bodies_blob


def reason_kind(reason: str) -> str:
    """What a dead-letter reason is counted under: its kind, the text before the first
    colon (``rejected:404:feature_not_found`` -> ``rejected``), one of a bounded set."""
    return reason.partition(":")[0].strip() or "unknown"


def put_args(events: Sequence[SpooledEvent], account: str) -> list[Any]:
    """The arguments of the PUT script for one burst (cut into entries)."""
    args: list[Any] = [len(events), account, SCHEMA_VERSION]
    for chunk in split_burst(events):
        args += encode_entry(chunk)
    return args


def decode_entry(entry_id: bytes, flat: Sequence[bytes]) -> Entry:
    """Read one entry from its flat ``[field, value, ...]`` list, or raise MalformedEntryError."""
    fields = dict(zip(flat[::2], flat[1::2], strict=False))
    if fields.get(b"v") != SCHEMA_VERSION:
        raise MalformedEntryError(f"unknown schema version {fields.get(b'v')!r}")
    try:
        account = fields[b"a"].decode()
        keys = fields[b"k"].decode().split("\n")
        stamps = [float(t) for t in fields[b"t"].split(b"\n")]
        bodies = fields[b"b"].split(b"\n")
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise MalformedEntryError(f"unreadable entry: {exc}") from None
    if not len(keys) == len(stamps) == len(bodies):
        raise MalformedEntryError("keys, timestamps and bodies differ in number")
    events = [
        SpooledEvent(key=k, body=b, created_at=t)
        for k, b, t in zip(keys, bodies, stamps, strict=False)
    ]
    return Entry(id=entry_id, account=account, events=events)


def parse_entries(raw: Any) -> list[tuple[bytes | None, Sequence[bytes] | None]]:
    """``(id, flat fields)`` pairs from an XREADGROUP/XCLAIM entry list (raw RESP2).

    A deleted entry still pending comes back as ``[id, nil]`` or, on Redis 6.2's
    XAUTOCLAIM, as a bare nil: its fields (and maybe its id) are ``None``.
    """
    out: list[tuple[bytes | None, Sequence[bytes] | None]] = []
    for item in raw or ():
        if item is None:
            out.append((None, None))
        else:
            out.append((item[0], item[1]))
    return out


def parse_dead_letter(entry_id: bytes, flat: Sequence[bytes]) -> DeadLetter:
    """One dead letter from its flat field list; never raises.

    A letter that cannot be sent again (fields unreadable, no key, a malformed event)
    says why in ``problem``: operators can list and drop it, requeue skips it.
    """
    f = {
        k.decode(errors="replace"): v.decode(errors="replace")
        for k, v in zip(flat[::2], flat[1::2], strict=False)
    }
    created_at, dead_at = _seconds(f.get("t")), _seconds(f.get("at"))
    key, reason, body = f.get("key", ""), f.get("reason", ""), f.get("body", "")
    problem = None
    if created_at is None or dead_at is None:
        problem = "unreadable: its time fields are not numbers"
    elif not key:
        problem = "no idempotency key: an unreadable stream entry"
    elif reason_kind(reason) == "malformed":
        problem = "the event is malformed: sending it again cannot succeed"
    elif not _json_object(body):
        problem = "the body is not a JSON object"
    return DeadLetter(
        id=entry_id.decode(errors="replace"),
        key=key,
        reason=reason,
        body=body,
        created_at=created_at or 0.0,
        account=f.get("a", ""),
        source=f.get("source", ""),
        dead_at=dead_at or 0.0,
        problem=problem,
    )


def _seconds(text: str | None) -> float | None:
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _json_object(body: str) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False
