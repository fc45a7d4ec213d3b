"""``balances.create`` and ``balances.update`` (spec §2, §3, §9.4)."""

from __future__ import annotations

from decimal import Decimal

from ._api_errors import ApiError, invalid_inputs, invalid_request
from ._balance_rows import ZERO, Row, add_interval, plan_deduction
from ._params import CreateParams, UpdateParams
from ._store import Store

__all__ = ["create_balance", "update_balance"]


def _refinement(message: str) -> ApiError:
    # The server runs these rules inside the handler, after body validation, so a
    # violation surfaces as a ZodError that its error handler maps to 500 invalid_inputs.
    return invalid_inputs(f"input: {message}", status=500)


def _check_create_rules(params: CreateParams, feature_type: str) -> None:
    has_grant = params.grant is not None
    resets = params.interval is not None
    if feature_type == "boolean":
        if has_grant or params.unlimited or resets:
            raise _refinement(
                "Boolean features cannot have included_grant, unlimited or reset.interval"
            )
        return
    # createBalanceParams.ts: "exactly one of" covers metered features only; a credit
    # system balance without an amount is accepted (a grant of 0).
    if feature_type == "metered" and has_grant == bool(params.unlimited):
        raise _refinement("Provide exactly one of included_grant or unlimited: true")
    if params.unlimited and resets:
        raise _refinement("Unlimited balances cannot have reset.interval")


def create_balance(store: Store, params: CreateParams) -> None:
    """Create a standalone grant; never creates the customer."""
    feature = store.feature(params.feature_id)
    _check_create_rules(params, feature.type)
    customer = store.customer(params.customer_id, params.entity_id)
    now = store.now()
    existing = [r for r in store.rows if r.customer_id == customer.id]
    if params.balance_id is not None and any(r.id == params.balance_id for r in existing):
        raise invalid_request(f"Balance {params.balance_id} already exists", status=409)
    if feature.type == "boolean" and any(
        r.feature_id == feature.id and r.entity_id == params.entity_id and not r.expired(now)
        for r in existing
    ):
        raise invalid_request(
            f"Customer {customer.id} already has boolean feature {feature.id}", status=409
        )
    count = 1 if params.interval_count is None else int(params.interval_count)
    if count < 1:
        raise invalid_inputs("reset.interval_count: must be at least 1")
    row = Row(
        customer_id=customer.id,
        feature_id=feature.id,
        entity_id=params.entity_id,
        id=params.balance_id or "",
        included_grant=params.grant or ZERO,
        unlimited=bool(params.unlimited),
        interval=params.interval,
        interval_count=count,
        expires_at=None if params.expires_at is None else int(params.expires_at),
    )
    if params.next_reset_at is not None:
        if not row.resets:
            raise invalid_request("next_reset_at requires a recurring reset")
        if params.next_reset_at <= now:
            raise invalid_request("next_reset_at must be in the future")
        if row.expires_at is not None and params.next_reset_at >= row.expires_at:
            raise invalid_request("next_reset_at must be before expires_at")
        row.next_reset_at = int(params.next_reset_at)
    elif row.resets and row.expires_at is None:
        # prepareNewBalanceForInsertion.ts: an expiring grant gets no computed reset, but
        # an explicit next_reset_at is kept (the grant resets until it expires).
        assert row.interval is not None
        row.next_reset_at = add_interval(now, row.interval, count)
    store.rows.append(row)


def _apply(store: Store, targets: list[tuple[Row, Decimal]], amount: Decimal) -> None:
    changes, _ = plan_deduction(targets, amount, force=True)
    for row, _factor in targets:
        row.usage += changes.get(id(row), ZERO)


def _soonest(rows: list[Row], key: str) -> Row:
    return min(rows, key=lambda row: getattr(row, key) if getattr(row, key) is not None else 2**62)


def update_balance(store: Store, params: UpdateParams) -> None:
    """Adjust a customer's balance of one feature, in ``runUpdateBalanceV2``'s order.

    ``remaining`` (which wins over ``add_to_balance``), then ``usage``, then
    ``included_grant`` (an adjustment on the first matching row: the balance is left
    alone, usage absorbs the change), then ``next_reset_at`` on the soonest-resetting
    row and ``expires_at`` on the soonest-expiring one. Rows are filtered by
    ``interval``, ``balance_id`` and ``customer_entitlement_id``
    (``buildCustomerEntitlementFilters.ts``). Without rows, setting the balance is a
    no-op and the other three are 404.
    """
    feature = store.feature(params.feature_id)
    if params.expires_at is not None and params.expires_at <= store.now():
        raise invalid_request("expires_at must be in the future")
    store.customer(params.customer_id, params.entity_id)
    rows = [
        row
        for row in store.view(params.customer_id, params.entity_id, feature.id)
        if (params.interval is None or (row.interval or "one_off") == params.interval)
        and (params.balance_id is None or row.id == params.balance_id)
        and (
            params.customer_entitlement_id is None
            or row.internal_id == params.customer_entitlement_id
        )
    ]
    targets = [(row, Decimal(1)) for row in rows]
    if params.remaining is not None and rows:
        # runDeductionOnContextV2.lua: with a target, add_to_balance is ignored.
        total = sum((row.remaining for row in rows if not row.unlimited), ZERO)
        _apply(store, targets, total - params.remaining)
    elif params.add_to_balance is not None and rows:
        _apply(store, targets, -params.add_to_balance)
    if params.usage is not None and rows:
        current = sum((row.usage for row in rows), ZERO)
        _apply(store, targets, params.usage - current)
    customer = params.customer_id
    if params.included_grant is not None:
        if not rows:
            raise invalid_request(
                f"No balances to update for feature {feature.id}, customer {customer}", 404
            )
        allowance = sum((row.included_grant for row in rows), ZERO)  # cusEntsToAllowance
        target = rows[0]
        change = params.included_grant - allowance - target.adjustment
        target.adjustment += change
        target.usage += change  # the balance stays: remaining unchanged
    if params.next_reset_at is not None:
        if not rows:
            raise invalid_request(
                f"No balances found for feature {feature.id}, customer {customer}", 404
            )
        target = _soonest(rows, "next_reset_at")
        if not target.resets:
            raise invalid_request(
                f"Cannot update next reset at for lifetime balance (feature {feature.id}, "
                f"customer {customer})"
            )
        target.next_reset_at = int(params.next_reset_at)
    if params.expires_at is not None:
        if not rows:
            raise invalid_request(
                f"No balances found for feature {feature.id}, customer {customer}", 404
            )
        target = _soonest(rows, "expires_at")
        if target.resets and target.paid:
            raise invalid_request(
                f"expires_at cannot be set on a paid recurring balance (feature {feature.id}); "
                "its lifetime follows the billing cycle"
            )
        target.expires_at = int(params.expires_at)
