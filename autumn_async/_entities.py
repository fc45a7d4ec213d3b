"""``autumn.entities``: create, get, list, update and delete, async.

Routes are Autumn's RPC routes (``server/src/internal/entities/entityRouter.ts``,
``entityRpcRouter``); every call is a ``POST`` with a JSON body. Balances of an entity
are read and changed through the balance operations with ``entity_id=``. The contract
is in ``docs/customers-and-entities.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._config import NOT_GIVEN, NotGiven, Timeout
from ._customer_requests import (
    build_entity_create,
    build_entity_ref,
    build_entity_update,
    build_list,
    uses_cursor_pages,
)
from ._process_bound import ProcessBound
from ._public import publish
from ._retry import RetryConfig

if TYPE_CHECKING:
    from ._customer_models import EntitiesDeleteResponse, EntitiesListResponse, Entity
    from ._pipeline import Pipeline

__all__ = ["AsyncEntities"]


class AsyncEntities(ProcessBound):
    """Entities of a customer: seats, projects, workspaces (``autumn.entities``)."""

    __slots__ = ("_api_version", "_pipeline")

    def __init__(self, pipeline: Pipeline, *, api_version: str) -> None:
        self._pipeline = pipeline
        self._api_version = api_version

    async def _entity(
        self,
        route: str,
        body: dict[str, Any],
        retries: RetryConfig | NotGiven | None,
        timeout: float | Timeout | NotGiven,
        *,
        mutates: bool,
    ) -> Entity:
        """One call that answers an entity; a mutation carries an Idempotency-Key."""
        from ._customer_models import Entity  # noqa: PLC0415 (models load on first use)

        # After an applied mutation whose answer was lost, the entity is there: read it.
        customer_id, entity_id = body["customer_id"], body["entity_id"]
        return await self._pipeline.call(
            Entity,
            route,
            body,
            retries=retries,
            timeout=timeout,
            mutates=mutates,
            replay=lambda: self.get(
                customer_id=customer_id, entity_id=entity_id, retries=retries, timeout=timeout
            ),
        )

    async def create(
        self,
        *,
        customer_id: str,
        entity_id: str,
        feature_id: str,
        name: str | None = None,
        billing_controls: Mapping[str, Any] | None = None,
        customer_data: Mapping[str, Any] | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> Entity:
        """Create the entity ``entity_id`` of ``customer_id`` for the feature ``feature_id``.

        ``feature_id`` must be a non-consumable feature (seats, projects), not credits or
        API calls: Autumn answers 400 otherwise. If the customer does not exist yet, Autumn
        creates it (with ``customer_data``: ``name``, ``email``, ...). An existing entity
        id is a :class:`ConflictError` (``entity_already_exists``). Sent with an
        ``Idempotency-Key`` reused on every retry.
        """
        body = build_entity_create(
            customer_id=customer_id,
            entity_id=entity_id,
            feature_id=feature_id,
            name=name,
            billing_controls=billing_controls,
            customer_data=customer_data,
        )
        return await self._entity("entities.create", body, retries, timeout, mutates=True)

    async def get(
        self,
        *,
        customer_id: str,
        entity_id: str,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> Entity:
        """Return the entity ``entity_id`` with its balances keyed by feature id.

        Raises :class:`NotFoundError` (``entity_not_found`` or ``customer_not_found``)
        when there is no such entity or customer.
        """
        body = build_entity_ref(customer_id=customer_id, entity_id=entity_id)
        return await self._entity("entities.get", body, retries, timeout, mutates=False)

    async def list(
        self,
        *,
        customer_id: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        start_cursor: str | None = None,
        search: str | None = None,
        plans: Sequence[Mapping[str, Any]] | None = None,
        subscription_status: str | None = None,
        processors: Sequence[str] | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> EntitiesListResponse:
        """One page of entities (of one customer with ``customer_id``, else of all).

        Paged like ``customers.list``: by ``offset`` up to ``x_api_version`` 2.2,
        by ``start_cursor`` (the previous page's ``next_cursor``) from 2.3; ``page.more``
        says whether another page follows. ``search`` matches entity id or name.
        """
        from ._customer_models import EntitiesListResponse  # noqa: PLC0415

        body = build_list(
            cursor_pages=uses_cursor_pages(self._api_version),
            limit=limit,
            offset=offset,
            start_cursor=start_cursor,
            search=search,
            plans=plans,
            subscription_status=subscription_status,
            processors=processors,
            customer_id=customer_id,
        )
        return await self._pipeline.call(
            EntitiesListResponse,
            "entities.list",
            body,
            retries=retries,
            timeout=timeout,
            mutates=False,
        )

    async def update(
        self,
        *,
        customer_id: str,
        entity_id: str,
        billing_controls: Mapping[str, Any],
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> Entity:
        """Replace the entity's ``billing_controls`` (the one field Autumn lets you change)
        and return the entity as it is now. Raises :class:`NotFoundError` when there is
        no such entity or customer. Sent with an ``Idempotency-Key`` reused on every retry.
        """
        body = build_entity_update(
            customer_id=customer_id, entity_id=entity_id, billing_controls=billing_controls
        )
        return await self._entity("entities.update", body, retries, timeout, mutates=True)

    async def delete(
        self,
        *,
        customer_id: str,
        entity_id: str,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> EntitiesDeleteResponse:
        """Delete the entity ``entity_id`` and its own balances.

        Raises :class:`NotFoundError` when there is no such entity or customer. Sent with
        an ``Idempotency-Key`` reused on every retry; if a retry finds the first attempt
        applied, the result has ``replayed=True``.
        """
        from ._customer_models import EntitiesDeleteResponse  # noqa: PLC0415

        async def replayed() -> EntitiesDeleteResponse:
            return EntitiesDeleteResponse(success=True, replayed=True)

        body = build_entity_ref(customer_id=customer_id, entity_id=entity_id)
        return await self._pipeline.call(
            EntitiesDeleteResponse,
            "entities.delete",
            body,
            retries=retries,
            timeout=timeout,
            mutates=True,
            replay=replayed,
        )


publish(globals(), ("AsyncEntities",))
