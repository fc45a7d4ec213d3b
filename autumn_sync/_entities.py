"""``autumn.entities`` for blocking code: each method runs its ``AsyncEntities`` twin.

No logic of its own: same parameters, defaults and docstrings as the async resource
(``tests/sync/test_parity.py`` keeps them so), same exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autumn_async._config import NOT_GIVEN, NotGiven, Timeout
from autumn_async._entities import AsyncEntities
from autumn_async._process_bound import ProcessBound
from autumn_async._public import publish
from autumn_async._retry import RetryConfig

from ._run import _run

if TYPE_CHECKING:
    from autumn_async.models import EntitiesDeleteResponse, EntitiesListResponse, Entity

__all__ = ["Entities"]


class Entities(ProcessBound):
    """Entities of a customer: seats, projects, workspaces (``autumn.entities``), blocking."""

    __slots__ = ("_inner",)

    def __init__(self, inner: AsyncEntities) -> None:
        self._inner = inner

    def create(
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
        return _run(
            self._inner.create(
                customer_id=customer_id,
                entity_id=entity_id,
                feature_id=feature_id,
                name=name,
                billing_controls=billing_controls,
                customer_data=customer_data,
                retries=retries,
                timeout=timeout,
            )
        )

    def get(
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
        return _run(
            self._inner.get(
                customer_id=customer_id, entity_id=entity_id, retries=retries, timeout=timeout
            )
        )

    def list(
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
        return _run(
            self._inner.list(
                customer_id=customer_id,
                limit=limit,
                offset=offset,
                start_cursor=start_cursor,
                search=search,
                plans=plans,
                subscription_status=subscription_status,
                processors=processors,
                retries=retries,
                timeout=timeout,
            )
        )

    def update(
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
        return _run(
            self._inner.update(
                customer_id=customer_id,
                entity_id=entity_id,
                billing_controls=billing_controls,
                retries=retries,
                timeout=timeout,
            )
        )

    def delete(
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
        return _run(
            self._inner.delete(
                customer_id=customer_id, entity_id=entity_id, retries=retries, timeout=timeout
            )
        )


publish(globals(), ("Entities",), "autumn_sync")
