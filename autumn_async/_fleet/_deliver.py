"""Sending spooled events to Autumn, and what each outcome means for the fleet.

:func:`send_batch_track` is the one call into the client: the request goes through its
pipeline and the one retry policy of ``_retry.py`` (never-sent failures, 429 and lost
answers are retried there under the same keys). What still fails afterwards is sorted
by :func:`verdict`:

- 409 ``duplicate_idempotency_key``: the event was already applied, so it is settled.
  (``batch_track`` itself never answers it: Autumn's worker claims each item's key and
  skips a duplicate item silently, see ``server/src/internal/balances/track/runBatchTrack.ts``;
  the emulator does the same.)
- no answer, 429, a gateway 502/503/504 without Autumn's JSON body, 401/403 (the worker's
  key is wrong, not the events): kept and resent later under the same keys.
- a 5xx with Autumn's JSON body (or an outcome-unknown error): Autumn may have applied
  part of it and released the keys, so a resend could count twice: dead-lettered
  ``outcome_unknown``, never resent by the fleet.
- any other 4xx: the batch is halved until the refused event stands alone, since Autumn
  validates the whole array first; that event is dead-lettered ``rejected``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from autumn_async._errors import (
    APIConnectionError,
    AuthenticationError,
    AutumnDefaultError,
    ConflictError,
    InternalServerError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    UsageError,
)

from ._spool import SpooledEvent

if TYPE_CHECKING:
    from autumn_async._client import AsyncAutumn

__all__ = ["Outcome", "SendBatch", "deliver", "send_batch_track", "verdict"]

SendBatch = Callable[[list[Any]], Awaitable[None]]
_GATEWAY = frozenset({502, 503, 504})


@attrs.define
class Outcome:
    """What became of a batch: settled keys by kind, and the events to send again."""

    delivered: list[str] = attrs.Factory(list)
    duplicates: list[str] = attrs.Factory(list)
    dead: dict[str, str] = attrs.Factory(dict)
    retry: list[SpooledEvent] = attrs.Factory(list)
    retry_after: float | None = None
    #: Why the last resend was needed ("AuthenticationError: Status 401 ..."): a wrong key
    #: resends for ever by design, so the worker's warning must say so.
    retry_reason: str = ""


async def send_batch_track(client: AsyncAutumn, bodies: list[Any]) -> None:
    """``POST /v1/balances.batch_track`` through the client's pipeline (up to 1,000 bodies).

    At merge this becomes the batcher's dispatcher call; the fleet needs only this.
    """
    from autumn_async._pipeline import Replayed  # noqa: PLC0415 (loaded with the client)

    try:
        # Every body carries its key: the call is state-changing and a resend cannot
        # count twice.
        await client.pipeline.send(
            "balances.batch_track", "/v1/balances.batch_track", bodies, key_in_body=True
        )
    except Replayed:
        return  # an earlier attempt of this very request was applied


def verdict(error: BaseException) -> str:
    """``duplicate``, ``retry``, ``split`` or a dead-letter reason for a failed batch."""
    if isinstance(error, OutcomeUnknownError):
        return "outcome_unknown"
    if isinstance(error, ConflictError) and error.code == "duplicate_idempotency_key":
        return "duplicate"
    if isinstance(error, (APIConnectionError, RateLimitError)):
        return "retry"
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        return "retry"  # the worker's key, not the events: never dead-letter a whole fleet
    if isinstance(error, InternalServerError):
        if error.status_code in _GATEWAY and error.code is None:
            return "retry"
        return f"outcome_unknown:{error.status_code}:{error.code}"
    if isinstance(error, AutumnDefaultError):
        return "split"
    if isinstance(error, UsageError):
        return f"invalid:{error.message[:200]}"
    raise error


async def deliver(send: SendBatch, events: Sequence[SpooledEvent]) -> Outcome:
    """Send ``events`` in one ``batch_track`` (split only to isolate a refused event)."""
    outcome = Outcome()
    await _deliver(send, events, outcome)
    return outcome


async def _deliver(send: SendBatch, events: Sequence[SpooledEvent], out: Outcome) -> None:
    try:
        bodies = [json.loads(event.body) for event in events]
    except ValueError:
        for event in events:  # one unreadable body must not block the rest
            try:
                json.loads(event.body)
            except ValueError:
                out.dead[event.key] = "invalid:body is not JSON"
        events = [e for e in events if e.key not in out.dead]
        bodies = [json.loads(event.body) for event in events]
        if not events:
            return
    try:
        await send(bodies)
    except (AutumnDefaultError, APIConnectionError, UsageError) as error:
        kind = verdict(error)
        keys = [event.key for event in events]
        if kind == "duplicate":
            out.duplicates += keys
        elif kind == "retry":
            out.retry += events
            out.retry_reason = f"{type(error).__name__}: {str(error)[:200]}"
            wait = getattr(error, "retry_after", None)
            if wait is not None:
                out.retry_after = max(out.retry_after or 0.0, float(wait))
        elif kind == "split" and len(events) > 1:
            middle = len(events) // 2
            await _deliver(send, events[:middle], out)
            await _deliver(send, events[middle:], out)
        elif kind == "split":
            status = getattr(error, "status_code", None)
            out.dead[keys[0]] = f"rejected:{status}:{getattr(error, 'code', None)}"
        else:
            out.dead.update(dict.fromkeys(keys, kind))
    else:
        out.delivered += [event.key for event in events]
