"""``autumn.balances``: the four operations of the API reference, async."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._checks import new_key
from ._config import NOT_GIVEN, NotGiven, Timeout
from ._errors import APIConnectionError, InternalServerError, UsageError
from ._log import sdk_logger
from ._pipeline import Pipeline, Replayed, outcome_unknown
from ._process_bound import ProcessBound
from ._public import publish
from ._requests import (
    CREATE_AMOUNT_HINT,
    build_check,
    build_create,
    build_track,
    build_update,
    check_idempotency_key,
    create_without_amount,
)
from ._retry import RetryConfig

if TYPE_CHECKING:
    from . import models
    from .models import (
        BalancesCheckResponse,
        BalancesCreateReset,
        BalancesCreateResponse,
        BalancesTrackResponse,
        BalancesUpdateResponse,
        Interval,
    )
else:

    class _LazyModels:
        """The models module, imported on first use: its classes cost ~20 ms to build,
        which ``from autumn_sync import Autumn`` should not pay."""

        def __getattr__(self, name: str) -> Any:
            from . import models as module  # noqa: PLC0415 (the point: import late)

            value = getattr(module, name)
            setattr(self, name, value)
            return value

    models = _LazyModels()

__all__ = ["AsyncBalances"]

logger = sdk_logger("fail_open")

Timestamp = float | _dt.datetime
_SuccessT = TypeVar("_SuccessT", "BalancesCreateResponse", "BalancesUpdateResponse")


def _header_key(idempotency_key: str | None) -> str:
    """The caller's ``Idempotency-Key`` (validated), or a fresh one."""
    if idempotency_key is None:
        return new_key()
    return check_idempotency_key(idempotency_key, header=True)


class AsyncBalances(ProcessBound):
    """Create, update, check and track balances (``autumn.balances``)."""

    __slots__ = ("_fail_open", "_pipeline")

    def __init__(self, pipeline: Pipeline, *, fail_open: bool = False) -> None:
        self._pipeline = pipeline
        self._fail_open = fail_open

    async def _mutate(
        self,
        name: str,
        body: dict[str, Any],
        cls: type[_SuccessT],
        *,
        key: str,
        retries: RetryConfig | NotGiven | None,
        timeout: float | Timeout | NotGiven,
    ) -> _SuccessT:
        """create / update: ``{"success": true}`` answers, an Idempotency-Key per call."""
        pipeline = self._pipeline
        try:
            status, raw = await pipeline.send(
                f"balances.{name}",
                f"/v1/balances.{name}",
                body,
                retries=retries,
                timeout=timeout,
                idempotency_key=key,
            )
        except Replayed:
            return cls(success=True, replayed=True)
        return pipeline.parse(cls, status, raw, idempotency_key=key)

    async def create(
        self,
        *,
        feature_id: str,
        customer_id: str,
        entity_id: str | None = None,
        included: float | None = None,
        unlimited: bool | None = None,
        reset: BalancesCreateReset | Mapping[str, Any] | str | None = None,
        expires_at: Timestamp | None = None,
        granted_balance: float | None = None,
        included_grant: float | None = None,
        balance_id: str | None = None,
        rollover: Mapping[str, Any] | None = None,
        next_reset_at: Timestamp | None = None,
        idempotency_key: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesCreateResponse:
        """Grant a standalone balance of ``feature_id`` to a customer (or one of its entities).

        ``included`` is the amount granted (sent as ``included_grant``, the public name);
        ``unlimited=True`` grants without limit; ``reset`` makes it recur
        (``"month"``, ``{"interval": "month", "interval_count": 1}`` or a
        :class:`BalancesCreateReset`); ``expires_at`` (Unix ms or an aware datetime) ends
        it. ``included_grant``, ``balance_id``, ``rollover`` and ``next_reset_at`` are read
        by today's server only. Sent with an ``Idempotency-Key`` (``idempotency_key``, or a
        fresh UUID4) reused on every retry; an error whose outcome is unknown carries it.

        A metered feature needs ``included`` or ``unlimited=True``; the SDK cannot tell a
        metered feature from a boolean one, so a create without either is sent, and
        Autumn's 500 ``invalid_inputs`` comes back with a message saying what is missing.
        """
        key = _header_key(idempotency_key)
        body = build_create(
            customer_id=customer_id,
            feature_id=feature_id,
            entity_id=entity_id,
            included=included,
            unlimited=unlimited,
            reset=reset,
            expires_at=expires_at,
            granted_balance=granted_balance,
            included_grant=included_grant,
            balance_id=balance_id,
            rollover=rollover,
            next_reset_at=next_reset_at,
        )
        try:
            return await self._mutate(
                "create",
                body,
                models.BalancesCreateResponse,
                key=key,
                retries=retries,
                timeout=timeout,
            )
        except InternalServerError as exc:
            if exc.code == "invalid_inputs" and create_without_amount(body):
                exc.message = f"{exc.message} ({CREATE_AMOUNT_HINT})"
                exc.args = (exc.message,)
            raise

    async def update(
        self,
        *,
        customer_id: str,
        feature_id: str,
        entity_id: str | None = None,
        current_balance: float | None = None,
        interval: Interval | str | None = None,
        granted_balance: float | None = None,
        usage: float | None = None,
        customer_entitlement_id: str | None = None,
        next_reset_at: Timestamp | None = None,
        add_to_balance: float | None = None,
        remaining: float | None = None,
        included_grant: float | None = None,
        balance_id: str | None = None,
        expires_at: Timestamp | None = None,
        idempotency_key: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesUpdateResponse:
        """Adjust a customer's balance of ``feature_id``.

        ``current_balance`` (alias ``remaining``) sets what is left; ``add_to_balance``
        adds to it (negative subtracts); the two cannot be combined. ``interval`` or
        ``balance_id`` pick which balance when there are several. ``granted_balance``
        (or ``included_grant``) sets the grant, sent as ``included_grant``: Autumn moves
        the grant through an adjustment and leaves what remains unchanged. Sent with an
        ``Idempotency-Key`` (``idempotency_key``, or a fresh UUID4) reused on every retry;
        an error whose outcome is unknown carries it.
        """
        key = _header_key(idempotency_key)
        body = build_update(
            customer_id=customer_id,
            feature_id=feature_id,
            entity_id=entity_id,
            current_balance=current_balance,
            interval=interval,
            granted_balance=granted_balance,
            usage=usage,
            customer_entitlement_id=customer_entitlement_id,
            next_reset_at=next_reset_at,
            add_to_balance=add_to_balance,
            remaining=remaining,
            included_grant=included_grant,
            balance_id=balance_id,
            expires_at=expires_at,
        )
        return await self._mutate(
            "update",
            body,
            models.BalancesUpdateResponse,
            key=key,
            retries=retries,
            timeout=timeout,
        )

    async def check(
        self,
        *,
        customer_id: str,
        feature_id: str,
        entity_id: str | None = None,
        required_balance: float | None = None,
        properties: Mapping[str, Any] | None = None,
        send_event: bool | None = None,
        with_preview: bool | None = None,
        idempotency_key: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesCheckResponse:
        """May this customer use ``required_balance`` (default 1) of ``feature_id``?

        ``send_event=True`` checks and deducts atomically, with an ``Idempotency-Key``
        (``idempotency_key``, or a fresh UUID4) reused on retries; if a retry finds the
        first attempt was recorded but its answer was lost, :class:`OutcomeUnknownError`
        is raised, carrying the key. ``idempotency_key`` is only sent with
        ``send_event=True``. ``with_preview=True`` adds upgrade information when denied.
        A 202 from Autumn, or the client's own ``fail_open`` fallback, returns
        ``allowed=True`` with ``fallback=True``.
        """
        key = _header_key(idempotency_key) if send_event else None
        if idempotency_key is not None and not send_event:
            raise UsageError(
                "idempotency_key applies only to check(send_event=True): a plain check "
                "changes nothing",
                field="idempotency_key",
            )
        body = build_check(
            customer_id=customer_id,
            feature_id=feature_id,
            entity_id=entity_id,
            required_balance=required_balance,
            properties=properties,
            send_event=send_event,
            with_preview=with_preview,
        )
        pipeline = self._pipeline
        try:
            status, raw = await pipeline.send(
                "balances.check",
                "/v1/balances.check",
                body,
                retries=retries,
                timeout=timeout,
                idempotency_key=key,
            )
        except Replayed as replayed:
            raise outcome_unknown(
                "balances.check(send_event=True)",
                replayed.conflict,
                key,
                "an earlier attempt of this call reached Autumn and its answer was lost, so "
                "the event may have been recorded; Autumn does not replay answers, so whether "
                "it was allowed is unknown",
            ) from None
        except (APIConnectionError, InternalServerError) as exc:
            if not self._fail_open:
                raise
            logger.warning(
                "balances.check failed open for customer %r, feature %r: %s",
                customer_id,
                feature_id,
                exc,
            )
            return models.BalancesCheckResponse(
                allowed=True,
                customer_id=customer_id,
                entity_id=entity_id,
                required_balance=required_balance if required_balance is not None else 1,
                balance=None,
                flag=None,
                fallback=True,
                fallback_source="client",
                fallback_cause=exc,
            )
        result = pipeline.parse(models.BalancesCheckResponse, status, raw, idempotency_key=key)
        if status == 202:
            result = attrs.evolve(result, fallback=True, fallback_source="server")
        return result

    async def track(
        self,
        *,
        customer_id: str,
        feature_id: str | None = None,
        event_name: str | None = None,
        value: float | None = None,
        properties: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        entity_id: str | None = None,
        timestamp: Timestamp | None = None,
        overage_behavior: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> BalancesTrackResponse:
        """Record ``value`` (default 1; negative credits back) of usage.

        Give exactly one of ``feature_id`` or ``event_name`` (every feature listing that
        event is deducted). ``timestamp`` (Unix ms or an aware datetime, not in the
        future) records when the usage happened; ``overage_behavior`` is ``"cap"`` (the
        default: deduct only what is left) or ``"overflow"`` (deduct it all, the balance
        may go negative). The call always carries an ``idempotency_key`` (yours, or a
        fresh UUID4) reused on every retry, so a retry never counts twice; when a retry
        finds the first attempt applied, the result has ``replayed=True`` and no balance.
        A 202 (queued by Autumn) has ``queued=True``.
        """
        key = idempotency_key if idempotency_key is not None else new_key()
        body = build_track(
            customer_id=customer_id,
            feature_id=feature_id,
            event_name=event_name,
            value=value,
            properties=properties,
            idempotency_key=key,
            entity_id=entity_id,
            timestamp=timestamp,
            overage_behavior=overage_behavior,
        )
        pipeline = self._pipeline
        try:
            status, raw = await pipeline.send(
                "balances.track",
                "/v1/balances.track",
                body,
                retries=retries,
                timeout=timeout,
                idempotency_key=key,
                key_in_body=True,
            )
        except Replayed:
            return models.BalancesTrackResponse(
                customer_id=customer_id,
                entity_id=entity_id,
                event_name=event_name,
                value=body.get("value", 1),
                balance=None,
                replayed=True,
            )
        result = pipeline.parse(models.BalancesTrackResponse, status, raw, idempotency_key=key)
        if status == 202:
            result = attrs.evolve(result, queued=True)
        return result


publish(globals(), ("AsyncBalances",))
