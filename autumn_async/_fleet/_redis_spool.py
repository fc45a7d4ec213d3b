"""``RedisSpool``: the batcher's spool on a Redis stream, shared by a fleet of processes.

The only module that imports ``redis`` (the ``[redis]`` extra). Producers append one
entry per burst to ``{autumn}:usage`` (:mod:`._codec` has the format); delivery
workers read it through the consumer group ``autumn-delivery``, keep their claims alive
with a heartbeat, and settle an entry (ack, delete, dead letters) in one server-side
script once every event in it is settled. A worker that goes silent for ``lease``
seconds loses its entries to a peer's reclaim (an ``XAUTOCLAIM`` that leaves other
accounts' entries in place, :data:`._scripts.RECLAIM`), which resends them under the
same keys: Autumn's duplicate check makes a resend of an applied event a no-op.

Hazards handled here: ``MAXLEN`` is never used (it would delete pending work); a
redelivered event older than 23 h is dead-lettered (``dedupe_window_expired``), since
Autumn forgets keys after 24 h; an entry delivered more than ``max_deliveries`` times is
poison and dead-lettered (a clean hand-back of events never sent gives its delivery
back, and another account's entry is never taken, so neither counts); a consumer with
pending entries is never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import socket
import time
import urllib.parse
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.backoff
import redis.exceptions
import redis.retry

from autumn_async._errors import UsageError
from autumn_async._fork import abandon
from autumn_async._log import sdk_logger
from autumn_async._public import publish

from . import _scripts
from ._claims import Claims, Held, RawEntry
from ._codec import (
    DeadLetter,
    Entry,
    parse_dead_letter,
    parse_entries,
    put_args,
    reason_kind,
)
from ._group_commit import GroupCommit
from ._report import build_status, check_server
from ._spool import SpooledEvent, SpoolFullError, SpoolUnavailableError

__all__ = ["RedisSpool", "SpoolFullError", "SpoolUnavailableError"]

logger = sdk_logger("fleet")

DEFAULT_STREAM = "{autumn}:usage"
DEFAULT_GROUP = "autumn-delivery"
#: A write lost with its connection is resent: at worst an entry is added twice, and its
#: events then meet Autumn's duplicate check (the backlog counts both, settles both).
_RETRIES = 5
#: Handed-back entries look idle this long, so a peer with any lease takes them at once.
_HAND_BACK_IDLE_MS = 365 * 24 * 3600 * 1000
#: Dead-letter reasons (the batcher's ``rejected:<status>:<code>``) that refuse the key.
_KEY_REFUSED = ("rejected:401:", "rejected:403:")
_RAW = ("XREADGROUP", "XPENDING", "XRANGE", "XREVRANGE", "XINFO CONSUMERS")


class _Translate(contextlib.AbstractAsyncContextManager["_Translate"]):
    """Redis's exceptions leave this module as ours (SpoolUnavailableError), with the
    URL's credentials masked should redis-py have put any in the message."""

    def __init__(self, url: str) -> None:
        self._url = url

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, redis.exceptions.RedisError):
            message = redact_url_in(f"Redis failed: {exc}", self._url)
            raise SpoolUnavailableError(message, path=_redact(self._url)) from exc


def _positive(value: object, field: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < math.inf  # inf would never expire (and overflows int(ms))
    ):
        raise UsageError(f"{field} must be a positive finite number, got {value!r}", field=field)
    return float(value)


class RedisSpool:
    """A :class:`Spool` on a Redis stream (Redis >= 6.2, AOF on, ``noeviction``).

    ``url`` is a ``redis://`` or ``rediss://`` URL. ``lease`` (seconds, default 30) is how
    long a silent worker keeps its claims; ``max_backlog`` bounds the events handed over
    and not yet settled (``put`` raises :class:`SpoolFullError` beyond it); an entry
    delivered more than ``max_deliveries`` times is dead-lettered as poison. Producers and
    workers of one fleet must use the same ``stream`` and ``group``. ``clock`` stands in
    for ``time.time`` when judging Autumn's 24 h window (tests).
    """

    #: ``put`` hands events to every consumer of the group (not leased to the producer):
    #: a batcher on this spool delivers what it claims, or nothing with ``deliver=False``.
    shared_stream: ClassVar[bool] = True

    def __init__(
        self,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        group: str = DEFAULT_GROUP,
        lease: float = 30.0,
        max_backlog: int = 10_000_000,
        max_deliveries: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise UsageError("url must be a redis://, rediss:// or unix:// URL", field="url")
        for name, value in (("stream", stream), ("group", group)):
            if not isinstance(value, str) or not value:
                raise UsageError(f"{name} must be a non-empty string", field=name)
        self.url = url
        self._translate = _Translate(url)
        self.stream = stream
        self.group = group
        self.lease = _positive(lease, "lease")
        self.max_backlog = int(_positive(max_backlog, "max_backlog"))
        self.max_deliveries = int(_positive(max_deliveries, "max_deliveries"))
        self.dead_stream = f"{stream}:dead"
        self._counter = f"{stream}:events"
        self._stats_key = f"{stream}:stats"
        self._clock = clock
        self._shas = {
            name: hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (Redis names scripts by SHA-1)
            for name, text in _SCRIPT_TEXTS.items()
        }
        self._reset()

    def __repr__(self) -> str:
        return f"RedisSpool({_redact(self.url)!r}, stream={self.stream!r}, group={self.group!r})"

    def _reset(self) -> None:
        self.consumer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.account: str | None = None
        self._aclient: redis.asyncio.Redis | None = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._sclient: redis.Redis | None = None
        self._writer_conn: Any = None
        self._claims: Claims | None = None
        self._unsettled: list[Held] = []
        self._reclaim_cursor = "-"
        self._next_reclaim = 0.0
        #: This takeover pass so far: silent worker's entries, handed-back ones, consumers removed.
        self._takeover = [0, 0, 0]
        self._heartbeat: asyncio.Task[None] | None = None
        self._claiming: asyncio.Lock | None = None
        self._known_backlog = 0
        self._foreign: set[str] = set()
        self._writer: asyncio.Task[None] | None = None
        self._put_queue: list[tuple[Sequence[SpooledEvent], asyncio.Future[None]]] = []
        self._group_commit = GroupCommit(self._write_blocking)
        self.counters: dict[str, int] = {}
        self.key_refused: str | None = None
        self._refused = asyncio.Event()

    # -- connections ---------------------------------------------------------------

    def _client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            client = redis.asyncio.Redis.from_url(
                self.url, protocol=2, retry=redis.asyncio.retry.Retry(_backoff(), _RETRIES)
            )
            for command in _RAW:
                client.set_response_callback(command, _identity)
            self._aclient, self._aloop = client, loop
            self._claiming = asyncio.Lock()
            self._writer, self._put_queue = None, []
        return self._aclient

    def _sync_client(self) -> redis.Redis:
        if self._sclient is None:
            self._sclient = redis.Redis.from_url(
                self.url, protocol=2, retry=redis.retry.Retry(_backoff(), _RETRIES)
            )
        return self._sclient

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    async def _script(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        pipe.evalsha(self._shas[name], len(keys), *keys, *args)

    async def _evalsha(self, command: list[Any]) -> Any:
        client = self._client()
        try:
            return await _cmd(client, *command)
        except redis.exceptions.NoScriptError:  # Redis restarted or flushed its scripts
            for text in _SCRIPT_TEXTS.values():
                await client.script_load(text)
            return await _cmd(client, *command)

    async def _run_scripts(self, calls: list[tuple[str, list[str], list[Any]]]) -> list[Any]:
        """Run scripts in one round trip; load them first if Redis lost them (a restart)."""
        client = self._client()
        for attempt in (1, 2):
            pipe = client.pipeline(transaction=False)
            for name, keys, args in calls:
                await self._script(pipe, name, keys, args)
            try:
                return list(await pipe.execute())
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise
                for text in _SCRIPT_TEXTS.values():
                    await client.script_load(text)
        raise AssertionError("unreachable")

    # -- opening -------------------------------------------------------------------

    async def open(self, account: str) -> None:
        """Bind to ``account``, check the server, create the group if missing."""
        if not isinstance(account, str) or not account or "\n" in account:
            raise UsageError("account must be a non-empty one-line string", field="account")
        self.account = account
        self._claims = Claims(account, max_deliveries=self.max_deliveries, clock=self._clock)
        client = self._client()
        async with self._translate:
            info = await client.info()
            check_server(info)
            await self._create_group()
            self._known_backlog = int(await client.get(self._counter) or 0)

    def _claims_now(self) -> Claims:
        if self._claims is None:
            raise UsageError("open the spool before using it", field="account")
        return self._claims

    def _require_account(self) -> str:
        if self.account is None:
            raise UsageError("open the spool before using it", field="account")
        return self.account

    # -- producing -----------------------------------------------------------------

    def _put_command(self, events: Sequence[SpooledEvent], account: str) -> list[Any]:
        keys = [self.stream, self._counter, self._stats_key]
        return ["EVALSHA", self._shas["put"], 3, *keys, *put_args(events, account)]

    def _refuse_if_full(self, n: int) -> None:
        if self._known_backlog + n > self.max_backlog:
            self._count("enqueue_failed:max_backlog", n)
            raise SpoolFullError(
                f"the Redis spool holds {self._known_backlog} events "
                f"(max_backlog={self.max_backlog})",
                reason="max_backlog",
            )

    def _failed(self, exc: Exception, n: int) -> Exception:
        text = str(exc)
        if isinstance(exc, redis.exceptions.OutOfMemoryError) or (
            isinstance(exc, redis.exceptions.ResponseError)
            and ("OOM" in text or "maxmemory" in text)  # as a pipeline or EXECABORT reports it
        ):
            self._count("enqueue_failed:redis_oom", n)
            text = redact_url_in(f"Redis is out of memory: {exc}", self.url)
            return SpoolFullError(text, reason="redis_oom")
        if isinstance(exc, redis.exceptions.RedisError):
            self._count("enqueue_failed:unavailable", n)
            message = redact_url_in(f"Redis refused the write: {exc}", self.url)
            return SpoolUnavailableError(message, path=_redact(self.url))
        return exc

    async def put(self, events: Sequence[SpooledEvent]) -> None:
        """Durable in Redis on return; callers arriving together share one round trip."""
        account = self._require_account()
        if not events:
            return
        self._client()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._put_queue.append((events, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_queued(account))
        await future

    async def _write_queued(self, account: str) -> None:
        # While one commit is on the wire the next callers queue up: group commit.
        while self._put_queue:
            batch, self._put_queue = self._put_queue, []
            await self._commit_async(batch, account)

    async def _commit_async(
        self, batch: list[tuple[Sequence[SpooledEvent], asyncio.Future[None]]], account: str
    ) -> None:
        events = [e for chunk, _f in batch for e in chunk]
        try:
            if self._known_backlog + len(events) > self.max_backlog:
                self._known_backlog = int(await self._client().get(self._counter) or 0)
            self._refuse_if_full(len(events))
            backlog = await self._evalsha(self._put_command(events, account))
        except Exception as exc:  # noqa: BLE001 (every caller of the burst gets it)
            error = self._failed(exc, len(events))
            for _chunk, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self._known_backlog = int(backlog)
        self._count("enqueued", len(events))
        for _chunk, future in batch:
            if not future.done():
                future.set_result(None)

    def put_blocking(self, events: Sequence[SpooledEvent]) -> None:
        """Durable in Redis on return, from any thread; concurrent callers share a write."""
        self._require_account()
        if events:
            self._group_commit.submit(events)

    def _write_blocking(self, events: list[SpooledEvent]) -> None:
        try:
            self._put_blocking_now(events, self._require_account())
        except Exception as exc:
            error = self._failed(exc, len(events))
            if error is exc:
                raise
            raise error from exc

    def _put_blocking_now(self, events: list[SpooledEvent], account: str) -> None:
        client = self._sync_client()
        if self._known_backlog + len(events) > self.max_backlog:
            self._known_backlog = int(client.get(self._counter) or 0)
        self._refuse_if_full(len(events))
        command = self._put_command(events, account)
        try:
            backlog = self._send_on_writer(client, command)
        except redis.exceptions.NoScriptError:  # Redis restarted or flushed its scripts
            client.script_load(_scripts.PUT)
            backlog = self._send_on_writer(client, command)
        self._known_backlog = int(backlog)
        self._count("enqueued", len(events))

    def _send_on_writer(self, client: redis.Redis, command: list[Any]) -> Any:
        """One command on the group commit's own connection, packed here.

        Only the group commit's writer calls this, one write at a time, so one connection
        is enough: no pool checkout, no per-call command parsing. When that connection
        fails, the command goes through the client, with redis-py's reconnects and retries
        (a write lost with its connection may then be added twice: see ``_RETRIES``).
        """
        conn = self._writer_conn
        if conn is None:
            conn = self._writer_conn = client.connection_pool.make_connection()
        try:
            conn.send_packed_command([_pack(command)], check_health=False)
            return conn.read_response()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            conn.disconnect()
            return client.execute_command(*command)  # type: ignore[no-untyped-call]

    async def backlog(self) -> int:
        """Events handed over to Redis and not yet settled, fleet-wide."""
        async with self._translate:
            return int(await self._client().get(self._counter) or 0)

    # -- consuming -----------------------------------------------------------------

    async def claim(self, limit: int, *, wait: float = 0.0) -> list[SpooledEvent]:
        """Lease up to ``limit`` events: first a dead peer's, then new ones.

        ``wait`` (seconds) blocks for new entries when there is nothing to take.
        """
        self._require_account()
        self._client()
        assert self._claiming is not None
        if self.key_refused is not None:  # whatever it claims would be refused too
            await asyncio.sleep(wait)
            return []
        async with self._claiming, self._translate:
            if self._heartbeat is None or self._heartbeat.done():
                self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
            await self._flush_settled()
            try:
                await self._fill(limit, wait)
            except redis.exceptions.ResponseError:
                # NOGROUP, found by asking rather than by the error's text: redis-py's
                # pipelines replace that text with a note of their own (and 6.0's note
                # lost it: "caused error: {exception.args}").
                if await self._group_exists():
                    raise
                # Redis came back without its data (no AOF): the stream may be there again
                # (producers' writes) but not the group. Create it and go on.
                logger.warning(
                    "the consumer group %s of %s is missing (Redis restarted without "
                    "persistence?); creating it again", self.group, self.stream,
                )  # fmt: skip
                await self._create_group()
                self._reclaim_cursor = "-"
                await self._fill(limit, wait)
            return self._claims_now().take(limit)

    async def _fill(self, limit: int, wait: float) -> None:
        claims = self._claims_now()
        if claims.waiting() < limit and self._clock() >= self._next_reclaim:
            await self._reclaim()
        if claims.waiting() < limit:
            block = None if claims.waiting() or wait <= 0 else int(wait * 1000)
            await self._read_new(max(1, min(64, limit - claims.waiting())), block)

    async def _group_exists(self) -> bool:
        try:
            groups = await self._client().xinfo_groups(self.stream)
        except redis.exceptions.ResponseError:  # no such stream: no group either
            return False
        names = [g.get("name") for g in groups]
        return any(n in (self.group, self.group.encode()) for n in names)

    async def _create_group(self) -> None:
        with contextlib.suppress(redis.exceptions.ResponseError):  # BUSYGROUP: it exists
            await self._client().xgroup_create(self.stream, self.group, id="0", mkstream=True)

    async def _read_new(self, count: int, block: int | None) -> None:
        args: list[Any] = ["XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", count]
        if block is not None:
            args += ["BLOCK", block]
        raw = await _cmd(self._client(), *args, "STREAMS", self.stream, ">")
        for _stream, entries in raw or ():
            await self._take(parse_entries(entries), {})

    async def _reclaim(self) -> None:
        """Take entries idle for a lease (their owner is gone or handed them back).

        A takeover pass runs over several calls (64 pending entries a call); it logs one
        INFO line when it ends, telling entries handed back (a worker's clean stop) from
        a silent worker's. Entries of another account are left in place (see
        :data:`._scripts.RECLAIM`), and consumers left with nothing pending are removed.
        """
        args = [self.group, self.consumer, int(self.lease * 1000), self._reclaim_cursor, 64]
        replies = await self._run_scripts(
            [("reclaim", [self.stream], [*args, self._require_account(), _HAND_BACK_IDLE_MS])]
        )
        cursor, claimed, foreign, deleted, removed = replies[0]
        self._reclaim_cursor = cursor.decode() if cursor else "-"
        for account in foreign:
            self._warn_foreign(account.decode(errors="replace"))
        self._forget_deleted(deleted)
        handed_back = sum(1 for *_e, back in claimed if back)
        silent = len(claimed) - handed_back
        self._takeover[0] += silent
        self._takeover[1] += handed_back
        self._takeover[2] += len(removed)
        if silent or handed_back:
            self._count("reclaimed", silent)
            self._count("handed_back_taken", handed_back)
            stats = self._client().pipeline(transaction=False)
            stats.hincrby(self._stats_key, "reclaimed", silent)
            stats.hincrby(self._stats_key, "handed_back_taken", handed_back)
            await stats.execute()
        if not cursor:
            self._next_reclaim = self._clock() + self.lease / 3
            self._log_takeover()
        if claimed:
            live = [(entry_id, fields) for entry_id, fields, _n, _b in claimed]
            await self._take(live, {entry_id: int(n) for entry_id, _f, n, _b in claimed})

    def _log_takeover(self) -> None:
        """One INFO line for the takeover pass that just ended (nothing if it took nothing)."""
        silent, handed_back, removed = self._takeover
        self._takeover = [0, 0, 0]
        parts = []
        if handed_back:
            parts.append(
                f"took over {handed_back} entries handed back by a stopping worker (or left "
                "for this account by another's)"
            )
        if silent:
            parts.append(
                f"reclaimed {silent} entries idle for over {self.lease:.0f}s from a silent worker"
            )
        if parts:
            parts[-1] += "; sending them under their keys"
        if removed:
            parts.append(f"removed {removed} consumers with nothing pending from {self.group}")
        if parts:
            logger.info("; ".join(parts))

    def _forget_deleted(self, deleted: Sequence[bytes]) -> None:
        """Count entries deleted while pending (someone ran XDEL): nothing is left to send.

        The RECLAIM script finds them among the idle pending ids (an id whose entry is
        gone) and acks them, on Redis 6.2 as on 7 (whose XAUTOCLAIM would name them, while
        6.2's answers a nil and leaves them pending for ever).
        """
        if not deleted:
            return
        self._count("deleted_while_pending", len(deleted))
        logger.warning(
            "%d entries of %s were deleted while pending (XDEL by someone else); they are "
            "acked and their events cannot be delivered (the backlog count keeps them)",
            len(deleted), self.stream,
        )  # fmt: skip

    async def _take(self, entries: Sequence[RawEntry], deliveries: Mapping[bytes, int]) -> None:
        foreign, finished = self._claims_now().add(entries, deliveries)
        for entry in foreign:
            await self._hand_back_foreign(entry)
        if finished:
            await self._settle_entries(finished)

    async def _hand_back_foreign(self, entry: Entry) -> None:
        self._warn_foreign(entry.account)
        # Its delivery is given back: a worker of that account finds it never delivered.
        await self._touch([entry.id], idle_ms=_HAND_BACK_IDLE_MS, undo_delivery=True)

    def _warn_foreign(self, account: str) -> None:
        if account not in self._foreign:
            self._foreign.add(account)
            logger.warning(
                "the stream %s holds events of another Autumn account (%s); this worker "
                "leaves them for a worker configured with that account (check its "
                "AUTUMN_SECRET_KEY and AUTUMN_SERVER_URL)",
                self.stream, account,
            )  # fmt: skip

    async def settle(
        self,
        keys: Collection[str],
        *,
        dead: Mapping[str, str] | None = None,
        duplicates: Collection[str] = (),
    ) -> None:
        """Mark events settled; an entry is acked and deleted once all of its are.

        ``dead`` maps a key to its dead-letter reason; ``duplicates`` are keys Autumn
        reported as already applied (counted, otherwise delivered).
        """
        refused = {k: r for k, r in (dead or {}).items() if r.startswith(_KEY_REFUSED)}
        if refused:
            # Autumn refused this process's secret key, not the events: dead-lettering
            # them would lose them for every worker. Hand them back and stop claiming.
            await self._key_was_refused(refused)
            keys = [k for k in keys if k not in refused]
            dead = {k: r for k, r in (dead or {}).items() if k not in refused}
        finished = self._claims_now().settle(keys, dead or {}, duplicates)
        self._unsettled.extend(finished)
        await self._flush_settled()

    async def _key_was_refused(self, refused: Mapping[str, str]) -> None:
        if self.key_refused is None:
            self.key_refused = next(iter(refused.values()))
            logger.error(
                "Autumn refused the secret key (%s): the events are handed back to %s, "
                "not dead-lettered, and this process claims nothing more",
                self.key_refused.removeprefix("rejected:"), self.stream,
            )  # fmt: skip
            self._refused.set()
        self._count("handed_back:key_refused", len(refused))
        await self.release(refused)

    async def wait_key_refused(self) -> str:
        """Return once Autumn has refused the secret key (401/403) of a delivery: the
        reason (``rejected:401:<code>``). From then on :meth:`claim` takes nothing."""
        await self._refused.wait()
        assert self.key_refused is not None
        return self.key_refused

    async def _flush_settled(self) -> None:
        """Settle finished entries; those Redis did not take wait for the next call."""
        if self._unsettled:
            async with self._translate:
                await self._settle_entries(self._unsettled)
            self._unsettled = []

    async def _settle_entries(self, entries: list[Held]) -> None:
        now = repr(self._clock())
        calls = []
        for held in entries:
            events = held.entry.events
            args: list[Any] = [self.group, held.entry.id, len(events), now, held.entry.account]
            args += [len(events) - len(held.dead), held.duplicates, len(held.dead)]
            for event in events:
                reason = held.dead.get(event.key)
                if reason is not None:
                    kind = reason_kind(reason)
                    args += [event.key, repr(event.created_at), event.body, reason, kind]
                    self._count(f"dead_lettered:{kind}")
            self._count("delivered", len(events) - len(held.dead))
            self._count("duplicates", held.duplicates)
            keys = [self.stream, self.dead_stream, self._counter, self._stats_key]
            calls.append(("settle", keys, args))
        await self._run_scripts(calls)
        for held in entries:
            self._claims_now().forget(held.entry.id)

    async def _touch(
        self, ids: Sequence[bytes], *, idle_ms: int, undo_delivery: bool = False
    ) -> list[bytes]:
        if not ids:
            return []
        args = [self.group, self.consumer, idle_ms, "1" if undo_delivery else "0", *ids]
        replies = await self._run_scripts([("touch", [self.stream], args)])
        return list(replies[0])

    async def _beat(self) -> None:
        """Every lease/3: renew the claims this consumer still holds, until close()."""
        me = asyncio.current_task()
        while self._heartbeat is me:
            await asyncio.sleep(self.lease / 3)
            ids = list(self._claims_now().held)  # settled ones too, until Redis took it
            try:
                lost = await self._touch(ids, idle_ms=0)
            except (redis.exceptions.RedisError, OSError) as exc:
                # close() cancelled it mid-command and redis-py reported the cut connection
                # as an error: the cancellation must still end it (close() awaits it).
                if me is not None and me.cancelling():
                    raise asyncio.CancelledError from None
                logger.warning(
                    "heartbeat failed (claims may lapse): %s", redact_url_in(str(exc), self.url)
                )
                continue
            for entry_id in lost:
                if self._claims_now().forget(entry_id) is not None:
                    logger.warning("entry %s was taken over by a peer", entry_id)

    async def release(self, keys: Collection[str], *, attempted: Collection[str] = ()) -> None:
        """Hand the entries holding ``keys`` (and unreturned ones) back at once.

        ``attempted`` are keys that were sent at least once: an entry holding one keeps
        its delivery in the count towards poison; any other entry gets it back, since a
        clean hand-back (SIGTERM, a rolling deploy) is no delivery attempt.
        """
        claims = self._claims_now()
        sent = set(claims.entries_of(attempted))
        ids = claims.release(keys)
        async with self._translate:
            await self._touch([i for i in ids if i in sent], idle_ms=_HAND_BACK_IDLE_MS)
            unsent = [i for i in ids if i not in sent]
            await self._touch(unsent, idle_ms=_HAND_BACK_IDLE_MS, undo_delivery=True)

    async def close(self) -> None:
        """Hand back what is still held, stop the heartbeat, close the connections."""
        self._log_takeover()  # a takeover pass cut short still gets its line
        beat, self._heartbeat = self._heartbeat, None  # it stops at its next turn, too
        if beat is not None:
            beat.cancel()
            # Waited for without taking its CancelledError for this task's own: a close()
            # that is itself cancelled (a timeout around it) stops there.
            await asyncio.wait([beat])
            if not beat.cancelled() and beat.exception() is not None:
                logger.warning("heartbeat ended with %r", beat.exception())
        client = self._aclient
        claims = self._claims  # None: never opened (status, dead letters), nothing held
        if client is not None and claims is not None and self._aloop is asyncio.get_running_loop():
            with contextlib.suppress(SpoolUnavailableError, redis.exceptions.RedisError):
                await self._flush_settled()
                await self.release(claims.open_keys())
                await self._run_scripts(
                    [("delconsumer", [self.stream], [self.group, self.consumer])]
                )
        if client is not None:
            await client.aclose()
        self._aclient = None
        if self._writer_conn is not None:
            self._writer_conn.disconnect()
            self._writer_conn = None
        if self._sclient is not None:
            self._sclient.close()
            self._sclient = None

    # -- operators (python -m autumn_async.fleet status / dead-letters) -------------

    async def status(self) -> dict[str, Any]:
        """The fleet's state and counters (see ``python -m autumn_async.fleet status``)."""
        client = self._client()
        pipe = client.pipeline(transaction=False)
        pipe.get(self._counter)
        pipe.xlen(self.stream)
        pipe.xlen(self.dead_stream)
        pipe.hgetall(self._stats_key)
        pipe.execute_command("XRANGE", self.stream, "-", "+", "COUNT", 1)
        pipe.time()
        backlog, entries, dead, stats, oldest, now = await pipe.execute()
        try:
            summary = await _cmd(client, "XPENDING", self.stream, self.group)
            consumers = await _cmd(client, "XINFO CONSUMERS", self.stream, self.group)
        except redis.exceptions.ResponseError:  # no group yet: nothing was ever read
            summary, consumers = [0], []
        report = build_status(
            backlog=backlog, entries=entries, dead=dead, stats=stats, oldest=oldest,
            server_time=now, pending_summary=summary, consumers=consumers,
        )  # fmt: skip
        return {"stream": self.stream, "group": self.group, **report}

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters."""
        raw = await _cmd(self._client(), "XRANGE", self.dead_stream, "-", "+", "COUNT", limit)
        return [parse_dead_letter(i, f) for i, f in raw]

    async def requeue(self, ids: Collection[str] | None = None) -> int:
        """Put dead letters (``None``: all of them) back in the work stream; return how many.

        They are resent under their own keys: within 24 h of ``track()`` Autumn turns an
        already applied one into a no-op; later, a requeued event counts again. Letters
        that cannot be sent (see :attr:`DeadLetter.problem`) are skipped and stay.
        """
        requeued, _skipped = await self.requeue_letters(ids)
        return requeued

    async def requeue_letters(
        self, ids: Collection[str] | None = None
    ) -> tuple[int, list[DeadLetter]]:
        """:meth:`requeue`, also returning the letters skipped (left in the dead stream)."""
        selected = await self._select_dead(ids)
        letters = [d for d in selected if d.problem is None]
        skipped = [d for d in selected if d.problem is not None]
        if not letters:
            return 0, skipped
        client = self._client()
        await client.script_load(_scripts.PUT)  # a script unknown inside MULTI aborts it
        pipe = client.pipeline(transaction=True)
        by_account: dict[str, list[SpooledEvent]] = {}
        for d in letters:
            event = SpooledEvent(key=d.key, body=d.body.encode(), created_at=d.created_at)
            by_account.setdefault(d.account, []).append(event)
        for account, events in by_account.items():
            pipe.execute_command(*self._put_command(events, account))
        pipe.xdel(self.dead_stream, *[d.id for d in letters])
        await pipe.execute()
        return len(letters), skipped

    async def drop_dead_letters(self, ids: Collection[str] | None = None) -> int:
        """Delete dead letters for good (``None``: all of them); return how many."""
        letters = await self._select_dead(ids)
        if letters:
            await self._client().xdel(self.dead_stream, *[d.id for d in letters])
        return len(letters)

    async def missing_dead_letters(self, ids: Collection[str]) -> list[str]:
        """Those of ``ids`` that name no dead letter, in the order given."""
        return [i for i in dict.fromkeys(ids) if not await self._select_dead([i])]

    async def _select_dead(self, ids: Collection[str] | None) -> list[DeadLetter]:
        if ids is None:
            return await self.dead_letters(limit=1_000_000)
        client = self._client()
        out = []
        for entry_id in ids:
            try:
                raw = await _cmd(client, "XRANGE", self.dead_stream, entry_id, entry_id)
            except redis.exceptions.ResponseError:  # not a stream id
                raise UsageError(f"{entry_id!r} is not a dead-letter id", field="ids") from None
            out += [parse_dead_letter(i, f) for i, f in raw]
        return out

    def after_fork_in_child(self) -> None:
        """Forget the parent's connections and claims; the child is a new consumer."""
        for inherited in (
            self._aclient,
            self._sclient,
            self._heartbeat,
            self._writer,
            self._writer_conn,
        ):
            if inherited is not None:
                abandon(inherited)
        account = self.account
        self._reset()
        if account is not None:  # still bound: a forked producer writes at once
            self.account = account
            self._claims = Claims(account, max_deliveries=self.max_deliveries, clock=self._clock)


#: Query parameters redis-py reads credentials from (``?password=``, ``?username=``).
_SECRET_PARAMS = frozenset({"password", "username"})


def _credentials(url: str) -> list[str]:
    """Every credential ``url`` carries: user and password of its userinfo, and the values
    of its ``password=`` and ``username=`` query parameters (redis-py uses all of them)."""
    parts = urllib.parse.urlsplit(url)
    found = [parts.username or "", parts.password or ""]
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in _SECRET_PARAMS:
            found.append(value)
    secrets = {s for f in found if f for s in (f, urllib.parse.quote(f, safe=""))}
    return sorted(secrets, key=len, reverse=True)


def _redact(url: str) -> str:
    """The URL without its credentials, for reprs, logs, errors and the CLI's output:
    userinfo becomes ``***@`` and ``password=``/``username=`` query values ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        query = (
            "&".join(
                f"{pair.partition('=')[0]}=***"
                if pair.partition("=")[0].lower() in _SECRET_PARAMS
                else pair
                for pair in parts.query.split("&")
            )
            if parts.query
            else ""
        )
        shown = f"{parts.scheme}://{netloc}{parts.path}"  # urlunsplit drops unix://'s "//"
        return (
            shown
            + (f"?{query}" if query else "")
            + (f"#{parts.fragment}" if parts.fragment else "")
        )
    except ValueError:  # not even a URL: show none of it
        return "<a Redis URL that cannot be parsed>"


def redact_url_in(text: str, url: str) -> str:
    """``text`` (an error message, a log line) with every credential of ``url`` masked."""
    for secret in _credentials(url):
        text = text.replace(secret, "***")
    return text


def _pack(args: Sequence[Any]) -> bytes:
    """A command in RESP (the wire format redis-py would build), for str, bytes and int."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        value = (
            arg.encode() if isinstance(arg, str) else b"%d" % arg if isinstance(arg, int) else arg
        )
        parts.append(b"$%d\r\n%s\r\n" % (len(value), value))
    return b"".join(parts)


async def _cmd(client: redis.asyncio.Redis, *args: Any) -> Any:
    """A raw command (our callbacks leave replies unparsed; redis-py leaves it untyped)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def _backoff() -> redis.backoff.AbstractBackoff:
    return redis.backoff.ExponentialWithJitterBackoff(base=0.05, cap=1.0)


def _identity(response: Any, **_options: Any) -> Any:
    return response


_SCRIPT_TEXTS = {
    "put": _scripts.PUT,
    "settle": _scripts.SETTLE,
    "touch": _scripts.TOUCH,
    "reclaim": _scripts.RECLAIM,
    "delconsumer": _scripts.DELCONSUMER_IF_IDLE,
}


publish(globals(), ("RedisSpool",))


if TYPE_CHECKING:  # mypy proves RedisSpool fits the batcher's Spool protocol
    from ._spool import Spool

    def _fits(spool: RedisSpool) -> Spool:
        return spool
