"""``balances.track`` and ``balances.batch_track``: claim, queue, apply, drop (spec §13, §17).

A track is staged (validated, body key claimed) and then finished (applied, or handed to
the queue), so the HTTP layer can hold a request in flight between the two steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._api_errors import ApiError
from ._balance_rows import Feature, num
from ._params import TrackParams
from ._store import Store
from ._usage import apply_track, track_features

__all__ = [
    "StagedTrack",
    "batch_track",
    "begin_track",
    "finish_track",
    "queued_response",
    "releases_key",
    "track",
]


def _claim(store: Store, env: str, params: TrackParams) -> str | None:
    if params.idempotency_key is None:
        return None
    key = f"track:{params.idempotency_key}"
    store.idempotency.claim(env, key)
    return key


def releases_key(exc: BaseException) -> bool:
    """Whether a request ending in ``exc`` releases its idempotency keys.

    ``withIdempotencyKey.ts``: an error without a status, or with a status >= 400 other
    than 409, releases; a duplicate (409 or ``duplicate_idempotency_key``) never does.
    """
    if isinstance(exc, ApiError):
        return exc.status >= 400 and exc.status != 409 and exc.code != "duplicate_idempotency_key"
    return True


@dataclass
class StagedTrack:
    """A track that has passed validation and claimed its body key, not yet applied.

    The HTTP layer waits between the two steps under an ``in_flight`` fault, so a
    duplicate can arrive while the first request is still running, as on the server.
    """

    params: TrackParams
    features: list[Feature]
    key: str | None
    queued: bool

    @property
    def claims(self) -> list[str]:
        """The body keys this request holds (``track:<key>``)."""
        return [] if self.key is None else [self.key]


def begin_track(store: Store, params: TrackParams, env: str, *, queued: bool) -> StagedTrack:
    """Check the features or event name, then claim the body key (``handleTrack.ts``)."""
    features = track_features(store, params)
    return StagedTrack(params, features, _claim(store, env, params), queued)


def queued_response(params: TrackParams) -> dict[str, Any]:
    """The 202 body of a queued track (``getQueuedTrackResponse.ts``): no balance."""
    response: dict[str, Any] = {"customer_id": params.customer_id}
    if params.entity_id is not None:
        response["entity_id"] = params.entity_id
    if params.event_name is not None:
        response["event_name"] = params.event_name
    response["value"] = num(params.value)
    response["balance"] = None
    return response


def _drop(store: Store, params: TrackParams, source: str, exc: ApiError) -> None:
    store.dropped.append(
        {
            "source": source,
            "customer_id": params.customer_id,
            "entity_id": params.entity_id,
            "feature_id": params.feature_id,
            "event_name": params.event_name,
            "value": num(params.value),
            "idempotency_key": params.idempotency_key,
            "code": exc.code,
            "message": exc.message,
        }
    )


def _work(
    store: Store,
    params: TrackParams,
    features: list[Feature],
    env: str,
    *,
    source: str,
    claim: bool,
    auto_create: bool,
) -> None:
    """What the queue worker does with one event: apply it, or drop it without telling.

    ``processMessage.ts`` does not retry a track that fails with ``customer_not_found``
    (or any other refusal): the event is gone. The emulator lists it under
    ``/_emulator/dropped`` so tests can see what the real server hides.
    """
    try:
        key = _claim(store, env, params) if claim else None
    except ApiError as exc:
        _drop(store, params, source, exc)
        return
    try:
        store.customer(params.customer_id, params.entity_id, auto_create=auto_create)
        apply_track(store, params, features)
    except ApiError as exc:
        if key is not None:
            store.idempotency.release(env, key)
        _drop(store, params, source, exc)


def finish_track(
    store: Store, staged: StagedTrack, env: str, *, auto_create: bool
) -> tuple[int, dict[str, Any]]:
    """Apply a staged track: 200 with the balances, or 202 once handed to the queue.

    A failure releases the body key unless it is a duplicate (``releases_key``).
    """
    params = staged.params
    if staged.queued:
        # runAsyncTrack.ts: the key claimed at accept time is kept; the worker skips it.
        _work(
            store,
            params,
            staged.features,
            env,
            source="track",
            claim=False,
            auto_create=auto_create,
        )
        return 202, queued_response(params)
    try:
        store.customer(params.customer_id, params.entity_id, auto_create=auto_create)
        return 200, apply_track(store, params, staged.features)
    except Exception as exc:
        if staged.key is not None and releases_key(exc):
            store.idempotency.release(env, staged.key)
        raise


def track(
    store: Store, params: TrackParams, env: str, *, auto_create: bool = False
) -> dict[str, Any]:
    """Record usage: claim the body key, deduct, release the key if anything fails."""
    staged = begin_track(store, params, env, queued=False)
    return finish_track(store, staged, env, auto_create=auto_create)[1]


def batch_track(
    store: Store, items: list[TrackParams], env: str, *, auto_create: bool = False
) -> None:
    """Check every item's feature or event name, then hand each to the worker.

    ``runBatchTrack.ts`` checks only features and event names up front: a batch naming
    an unknown customer or entity is accepted, and the worker drops that event later
    (``processMessage.ts``), as it drops a duplicate key or a refused deduction.
    """
    prepared = [(item, track_features(store, item)) for item in items]
    for item, features in prepared:
        _work(store, item, features, env, source="batch_track", claim=True, auto_create=auto_create)
