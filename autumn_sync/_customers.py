"""``autumn.customers`` for blocking code: each method runs its ``AsyncCustomers`` twin.

No logic of its own: same parameters, defaults and docstrings as the async resource
(``tests/sync/test_parity.py`` keeps them so), same exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autumn_async._config import NOT_GIVEN, NotGiven, Timeout
from autumn_async._customers import AsyncCustomers
from autumn_async._process_bound import ProcessBound
from autumn_async._public import publish
from autumn_async._retry import RetryConfig

from ._run import _run

if TYPE_CHECKING:
    from autumn_async.models import Customer, CustomersDeleteResponse, CustomersListResponse

__all__ = ["Customers"]


class Customers(ProcessBound):
    """Create, read, update, delete and list customers (``autumn.customers``), blocking."""

    __slots__ = ("_inner",)

    def __init__(self, inner: AsyncCustomers) -> None:
        self._inner = inner

    def get_or_create(
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
        return _run(
            self._inner.get_or_create(
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
                retries=retries,
                timeout=timeout,
            )
        )

    def get(
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
        return _run(
            self._inner.get(
                customer_id=customer_id, expand=expand, retries=retries, timeout=timeout
            )
        )

    def update(
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
        return _run(
            self._inner.update(
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
                retries=retries,
                timeout=timeout,
            )
        )

    def delete(
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
        return _run(
            self._inner.delete(
                customer_id=customer_id,
                delete_in_stripe=delete_in_stripe,
                retries=retries,
                timeout=timeout,
            )
        )

    def list(
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
        return _run(
            self._inner.list(
                limit=limit,
                offset=offset,
                start_cursor=start_cursor,
                search=search,
                plans=plans,
                subscription_status=subscription_status,
                processors=processors,
                sort_order=sort_order,
                created_at_range=created_at_range,
                retries=retries,
                timeout=timeout,
            )
        )


publish(globals(), ("Customers",), "autumn_sync")
