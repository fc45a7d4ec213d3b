"""``autumn.customers``: get_or_create, get, update, delete and list, async.

Routes are Autumn's RPC routes (``server/src/internal/customers/cusRouter.ts``,
``customerRpcRouter``); every call is a ``POST`` with a JSON body. The contract is in
``docs/customers-and-entities.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._config import NOT_GIVEN, NotGiven, Timeout
from ._customer_requests import (
    build_customer_delete,
    build_customer_get,
    build_customer_update,
    build_get_or_create,
    build_list,
    uses_cursor_pages,
)
from ._process_bound import ProcessBound
from ._public import publish
from ._retry import RetryConfig

if TYPE_CHECKING:
    from ._customer_models import Customer, CustomersDeleteResponse, CustomersListResponse
    from ._pipeline import Pipeline

__all__ = ["AsyncCustomers"]


class AsyncCustomers(ProcessBound):
    """Create, read, update, delete and list customers (``autumn.customers``)."""

    __slots__ = ("_api_version", "_pipeline")

    def __init__(self, pipeline: Pipeline, *, api_version: str) -> None:
        self._pipeline = pipeline
        self._api_version = api_version

    async def _customer(
        self,
        route: str,
        body: dict[str, Any],
        retries: RetryConfig | NotGiven | None,
        timeout: float | Timeout | NotGiven,
        *,
        mutates: bool,
    ) -> Customer:
        """One call that answers a customer; a mutation carries an Idempotency-Key."""
        from ._customer_models import Customer  # noqa: PLC0415 (models load on first use)

        # After an applied mutation whose answer was lost, the customer is there: read it.
        customer_id = body.get("new_customer_id", body["customer_id"])
        return await self._pipeline.call(
            Customer,
            route,
            body,
            retries=retries,
            timeout=timeout,
            mutates=mutates,
            replay=lambda: self.get(customer_id=customer_id, retries=retries, timeout=timeout),
        )

    async def get_or_create(
        self,
        *,
        customer_id: str,
        name: str | None = None,
        email: str | None = None,
        fingerprint: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        stripe_id: str | None = None,
        create_in_stripe: bool | None = None,
        auto_enable_plan_id: str | None = None,
        send_email_receipts: bool | None = None,
        currency: str | None = None,
        billing_controls: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        expand: Sequence[str] | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> Customer:
        """Return the customer ``customer_id``, creating it first if Autumn has not seen it.

        Call it before ``check`` and ``track``: from ``x-api-version`` 2.1 they answer 404
        for an unknown customer. On an existing customer, ``name`` and ``email`` fill
        only empty fields and ``metadata`` is left alone (use :meth:`update` to change
        them). ``customer_id`` may use letters, digits, ``_``, ``-`` and ``:``. Sent with
        an ``Idempotency-Key`` reused on every retry.
        """
        body = build_get_or_create(
            customer_id=customer_id,
            name=name,
            email=email,
            fingerprint=fingerprint,
            metadata=metadata,
            stripe_id=stripe_id,
            create_in_stripe=create_in_stripe,
            auto_enable_plan_id=auto_enable_plan_id,
            send_email_receipts=send_email_receipts,
            currency=currency,
            billing_controls=billing_controls,
            config=config,
            expand=expand,
        )
        return await self._customer("customers.get_or_create", body, retries, timeout, mutates=True)

    async def get(
        self,
        *,
        customer_id: str,
        expand: Sequence[str] | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> Customer:
        """Return the customer ``customer_id``, with its balances keyed by feature id.

        Raises :class:`NotFoundError` (code ``customer_not_found``) if there is no such
        customer. ``expand`` asks for more, e.g. ``["entities"]`` or ``["invoices"]``.
        """
        body = build_customer_get(customer_id=customer_id, expand=expand)
        return await self._customer("customers.get", body, retries, timeout, mutates=False)

    async def update(
        self,
        *,
        customer_id: str,
        name: str | NotGiven | None = NOT_GIVEN,
        email: str | NotGiven | None = NOT_GIVEN,
        fingerprint: str | NotGiven | None = NOT_GIVEN,
        metadata: Mapping[str, Any] | None = None,
        stripe_id: str | NotGiven | None = NOT_GIVEN,
        send_email_receipts: bool | None = None,
        currency: str | NotGiven | None = NOT_GIVEN,
        billing_controls: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        new_customer_id: str | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> Customer:
        """Change an existing customer and return it as it is now.

        Fields left out stay as they are; ``name``, ``email``, ``fingerprint``,
        ``stripe_id`` and ``currency`` set to ``None`` are cleared. ``metadata`` is merged
        into the stored metadata, and a key set to ``None`` is deleted.
        ``new_customer_id`` renames the customer. Raises :class:`NotFoundError` for an
        unknown customer. Sent with an ``Idempotency-Key`` reused on every retry.
        """
        body = build_customer_update(
            customer_id=customer_id,
            name=name,
            email=email,
            fingerprint=fingerprint,
            metadata=metadata,
            stripe_id=stripe_id,
            send_email_receipts=send_email_receipts,
            currency=currency,
            billing_controls=billing_controls,
            config=config,
            new_customer_id=new_customer_id,
        )
        return await self._customer("customers.update", body, retries, timeout, mutates=True)

    async def delete(
        self,
        *,
        customer_id: str,
        delete_in_stripe: bool | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> CustomersDeleteResponse:
        """Delete the customer ``customer_id`` with its entities and balances.

        ``delete_in_stripe=True`` also deletes the linked Stripe customer. Raises
        :class:`NotFoundError` for an unknown customer. Sent with an ``Idempotency-Key``
        reused on every retry; if a retry finds the first attempt applied, the result
        has ``replayed=True``.
        """
        from ._customer_models import CustomersDeleteResponse  # noqa: PLC0415

        async def replayed() -> CustomersDeleteResponse:
            return CustomersDeleteResponse(success=True, replayed=True)

        body = build_customer_delete(customer_id=customer_id, delete_in_stripe=delete_in_stripe)
        return await self._pipeline.call(
            CustomersDeleteResponse,
            "customers.delete",
            body,
            retries=retries,
            timeout=timeout,
            mutates=True,
            replay=replayed,
        )

    async def list(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        start_cursor: str | None = None,
        search: str | None = None,
        plans: Sequence[Mapping[str, Any]] | None = None,
        subscription_status: str | None = None,
        processors: Sequence[str] | None = None,
        sort_order: str | None = None,
        created_at_range: Mapping[str, Any] | None = None,
        retries: RetryConfig | NotGiven | None = NOT_GIVEN,
        timeout: float | Timeout | NotGiven = NOT_GIVEN,
    ) -> CustomersListResponse:
        """One page of customers, newest first, paged the way the API version pages.

        Up to ``x_api_version`` 2.2 Autumn pages by ``offset`` (``limit`` default 10, up
        to 1000; ``has_more`` says whether to ask for ``offset + limit`` next). From 2.3
        it pages by cursor: pass the previous page's ``next_cursor`` as ``start_cursor``
        (``limit`` default 50, up to 5000); ``sort_order`` (``"asc"``/``"desc"``) and
        ``created_at_range`` (``{"start": ms, "end": ms}``) are read there only. Either
        way ``page.more`` says whether another page follows. ``search`` matches id, name
        or email.
        """
        from ._customer_models import CustomersListResponse  # noqa: PLC0415

        body = build_list(
            cursor_pages=uses_cursor_pages(self._api_version),
            limit=limit,
            offset=offset,
            start_cursor=start_cursor,
            search=search,
            plans=plans,
            subscription_status=subscription_status,
            processors=processors,
            sort_order=sort_order,
            created_at_range=created_at_range,
        )
        return await self._pipeline.call(
            CustomersListResponse,
            "customers.list",
            body,
            retries=retries,
            timeout=timeout,
            mutates=False,
        )


publish(globals(), ("AsyncCustomers",))
