"""What one consumer holds, without I/O: entries, their unsettled events, and verdicts.

Entries come in from ``XREADGROUP`` or a reclaim (``_scripts.RECLAIM``); their events go out to the
dispatcher through :meth:`Claims.take`; settling keys finishes entries, and a finished
entry is what the spool acknowledges, deletes and dead-letters in one script. The same
key in two entries (a requeued dead letter, say) is handed out once and settles both.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import attrs

from autumn_async._log import sdk_logger

from ._codec import Entry, MalformedEntryError, decode_entry
from ._spool import SpooledEvent

__all__ = ["DEDUPE_WINDOW", "Claims", "Held"]

logger = sdk_logger("fleet")

#: Autumn keeps an idempotency key 24 h; resending later than this risks a double count.
DEDUPE_WINDOW = 23 * 3600.0

RawEntry = tuple[bytes | None, Sequence[bytes] | None]


@attrs.define
class Held:
    """An entry this consumer holds: what is still unsettled in it, and how it ended."""

    entry: Entry
    open_keys: set[str]
    dead: dict[str, str] = attrs.Factory(dict)
    duplicates: int = 0


def redelivery_verdict(
    deliveries: int, created_at: float, now: float, max_deliveries: int
) -> str | None:
    """Why an event must not be sent again (a dead-letter reason), or ``None`` to send it."""
    if deliveries > max_deliveries:
        return "poison"  # it keeps killing its workers
    if deliveries > 1 and now - created_at > DEDUPE_WINDOW:
        return "dedupe_window_expired"  # Autumn may have forgotten the key: no blind resend
    return None


class Claims:
    """The entries one consumer holds, keyed both by entry id and by event key."""

    def __init__(self, account: str, *, max_deliveries: int, clock: Callable[[], float]) -> None:
        self.account = account
        self.max_deliveries = max_deliveries
        self.clock = clock
        self.held: dict[bytes, Held] = {}
        self._by_key: dict[str, list[bytes]] = {}
        self._buffer: list[SpooledEvent] = []

    def waiting(self) -> int:
        """Events claimed and not yet handed out."""
        return len(self._buffer)

    def take(self, limit: int) -> list[SpooledEvent]:
        """Hand out up to ``limit`` claimed events."""
        out, self._buffer = self._buffer[:limit], self._buffer[limit:]
        return out

    def add(
        self, entries: Sequence[RawEntry], deliveries: Mapping[bytes, int]
    ) -> tuple[list[Entry], list[Held]]:
        """Hold new entries; return (other accounts' entries, entries already finished).

        ``deliveries`` maps an entry id to its delivery count (1 when absent).
        """
        now = self.clock()
        foreign: list[Entry] = []
        finished: list[Held] = []
        for entry_id, flat in entries:
            if entry_id is None or flat is None or entry_id in self.held:
                continue
            try:
                entry = decode_entry(entry_id, flat)
            except MalformedEntryError as exc:
                logger.error("dead-lettering unreadable stream entry %s: %s", entry_id, exc)
                raw = SpooledEvent(key="", body=repr(list(flat)).encode(), created_at=0.0)
                entry = Entry(id=entry_id, account=self.account, events=[raw])
                held = self.held[entry_id] = Held(entry, set(), dead={"": f"malformed: {exc}"})
                finished.append(held)
                continue
            if entry.account != self.account:
                foreign.append(entry)
                continue
            held = self.held[entry_id] = Held(entry, {e.key for e in entry.events})
            count = deliveries.get(entry_id, 1)
            for event in entry.events:
                reason = redelivery_verdict(count, event.created_at, now, self.max_deliveries)
                if reason is not None:
                    held.dead[event.key] = reason
                    held.open_keys.discard(event.key)
                    continue
                holders = self._by_key.setdefault(event.key, [])
                holders.append(entry_id)
                if len(holders) == 1:
                    self._buffer.append(event)
            if not held.open_keys:
                finished.append(held)
        return foreign, finished

    def settle(
        self, keys: Collection[str], dead: Mapping[str, str], duplicates: Collection[str]
    ) -> list[Held]:
        """Mark keys settled; return the entries this finished."""
        dup = set(duplicates)
        finished: dict[bytes, Held] = {}
        for key in [*keys, *dead]:
            for entry_id in self._by_key.pop(key, ()):
                held = self.held.get(entry_id)
                if held is None or key not in held.open_keys:
                    continue
                held.open_keys.discard(key)
                if key in dead:
                    held.dead[key] = dead[key]
                elif key in dup:
                    held.duplicates += 1
                if not held.open_keys:
                    finished[entry_id] = held
        return list(finished.values())

    def forget(self, entry_id: bytes) -> Held | None:
        """Stop holding an entry (settled, lost to a peer, or handed back)."""
        held = self.held.pop(entry_id, None)
        for event in held.entry.events if held else ():
            self._by_key.pop(event.key, None)
        return held

    def entries_of(self, keys: Collection[str]) -> list[bytes]:
        """The ids of the entries holding ``keys``."""
        return [i for key in keys for i in self._by_key.get(key, ())]

    def release(self, keys: Collection[str]) -> list[bytes]:
        """Let go of the entries holding ``keys`` and of every event not handed out yet."""
        ids = {i for key in keys for i in self._by_key.get(key, ())}
        ids.update(i for e in self._buffer for i in self._by_key.get(e.key, ()))
        self._buffer = []
        for entry_id in ids:
            self.forget(entry_id)
        return sorted(ids)

    def open_keys(self) -> list[str]:
        """Every key not settled yet."""
        return [key for held in self.held.values() for key in held.open_keys]
