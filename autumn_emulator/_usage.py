"""``balances.check`` and the deduction behind ``balances.track`` (spec §4, §5, §9, §17.5).

How a track is claimed, queued and answered lives in ``_tracking``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ._api_errors import ApiError, invalid_request
from ._balance_rows import ZERO, Feature, Row, num, plan_deduction, render_balance
from ._params import CheckParams, TrackParams
from ._store import Store

__all__ = ["apply_track", "check", "check_fallback", "track_features"]


def _allows(feature: Feature, rows: list[Row], required: Decimal) -> bool:
    """The order of rules of spec §9.1 step 5, for a feature that has rows."""
    if feature.type == "boolean" or any(row.unlimited for row in rows) or required < 0:
        return True
    remaining = sum((max(row.remaining, ZERO) for row in rows), ZERO)
    overage_rows = [row for row in rows if row.overage_allowed]
    if overage_rows:
        if any(row.max_purchase is None for row in overage_rows):
            return True
        max_overage = sum((row.max_purchase or ZERO for row in overage_rows), ZERO)
        current = sum((max(-row.remaining, ZERO) for row in overage_rows), ZERO)
        return remaining + (max_overage - current) >= required
    return remaining >= required


def _preview(feature: Feature, has_balance: bool) -> dict[str, Any]:
    name = feature.name
    if has_balance:
        message = f"You have reached the usage limit for {name}."
    else:
        message = f"{name} is not available on your current plan."
    return {
        "scenario": "usage_limit" if has_balance else "feature_flag",
        "title": "Feature Unavailable",
        "message": message,
        "feature_id": feature.id,
        "feature_name": name,
        "products": [],
        "upgrade_product_id": None,
    }


def check(
    store: Store, params: CheckParams, env: str, *, auto_create: bool = False
) -> dict[str, Any]:
    """Decide whether the customer may use ``required_balance`` units of the feature."""
    feature = store.feature(params.feature_id)
    store.customer(params.customer_id, params.entity_id, auto_create=auto_create)
    required = params.required_balance
    candidates = [(feature, Decimal(1))]
    candidates += [(cs, cs.credit_schema[feature.id]) for cs in store.credit_systems(feature.id)]
    views = {f.id: store.view(params.customer_id, params.entity_id, f.id) for f, _ in candidates}
    chosen = next(
        (
            (f, cost)
            for f, cost in candidates
            if views[f.id] and _allows(f, views[f.id], required * cost)
        ),
        None,
    )
    if chosen is None:
        # Nothing allows: the first credit system with rows, else the feature's own rows,
        # else the first credit system (the server's pick, spec §9.1 step 2).
        fallback = candidates[1] if len(candidates) > 1 else candidates[0]
        ordered = candidates[1:] + candidates[:1]
        chosen = next(((f, cost) for f, cost in ordered if views[f.id]), fallback)
    evaluated, cost = chosen
    rows = views[evaluated.id]
    allowed = bool(rows) and _allows(evaluated, rows, required * cost)
    balances = None
    if params.send_event and feature.type == "boolean":
        # runCheckWithTrackV2.ts: flags are not usage-tracked, with or without a grant.
        raise invalid_request(
            "send_event cannot be used with boolean features, which are flags rather than "
            "usage-tracked."
        )
    if params.send_event and not rows and required <= 0:
        # runCheckWithTrackV2.ts: only required_balance > 0 short-circuits to a denial;
        # otherwise the deduction runs, finds nothing to do, and the check is allowed.
        allowed = True
    if params.send_event and rows:
        track_params = TrackParams(
            customer_id=params.customer_id,
            feature_id=feature.id,
            entity_id=params.entity_id,
            value=required,
            properties=params.properties,
            overage_behavior="reject",
        )
        try:
            result = apply_track(store, track_params, [feature])
        except ApiError as exc:
            if exc.code != "insufficient_balance":
                raise
            allowed = False  # the server swallows insufficient_balance here
        else:
            allowed = True
            balances = result.get("balances")
        rows = store.view(params.customer_id, params.entity_id, evaluated.id)
    response: dict[str, Any] = {"allowed": allowed, "customer_id": params.customer_id}
    if params.entity_id is not None:
        response["entity_id"] = params.entity_id
    response["required_balance"] = num(required * cost)
    response["balance"] = None
    response["flag"] = None
    if rows and evaluated.type == "boolean":
        row = rows[0]
        response["flag"] = {
            "id": row.id,
            "plan_id": row.plan_id,
            "expires_at": row.expires_at,
            "feature_id": row.feature_id,
        }
    elif rows:
        response["balance"] = render_balance(evaluated.id, rows)
    if balances is not None:
        response["balances"] = balances
    if params.with_preview:
        response["preview"] = None if allowed else _preview(evaluated, bool(rows))
    return response


def check_fallback(params: CheckParams) -> dict[str, Any]:
    """The 202 fail-open body (``buildCheckFallbackResponse.ts``): allowed, no balance.

    The server answers it when a check takes too long, a dependency fails or the org's
    aggregate check cap is hit; nothing is evaluated and nothing is deducted.
    """
    response: dict[str, Any] = {"allowed": True, "customer_id": params.customer_id}
    if params.entity_id is not None:
        response["entity_id"] = params.entity_id
    response["required_balance"] = num(params.required_balance)
    response["balance"] = None
    response["flag"] = None
    return response


def track_features(store: Store, params: TrackParams) -> list[Feature]:
    if params.feature_id is not None:
        return [store.feature(params.feature_id)]
    assert params.event_name is not None
    if params.overage_behavior == "reject":
        raise invalid_request("overage_behavior reject cannot be used with event_name")
    features = [f for f in store.features.values() if params.event_name in f.event_names]
    if not features:
        raise invalid_request(f"No features found for event name: {params.event_name}", 404)
    return features


def apply_track(store: Store, params: TrackParams, features: list[Feature]) -> dict[str, Any]:
    """Deduct for every feature (all or nothing under ``reject``), record the events."""
    customer_id, entity_id = params.customer_id, params.entity_id
    plans = []
    for feature in features:
        targets = store.targets(feature, customer_id, entity_id)
        # overageBehavior.ts: "overflow" deducts the full value, past the usage limits
        # (the balance goes negative); "cap" stops at what the grants and overage allow.
        overflow = params.overage_behavior == "overflow" and params.value > 0
        changes, left = plan_deduction(targets, params.value, force=overflow)
        if params.overage_behavior == "reject" and left > 0:
            raise ApiError(
                400,
                "insufficient_balance",
                f"Insufficient balance to deduct {num(params.value)} from feature {feature.id}",
            )
        plans.append((feature, targets, changes))
    deductions: list[dict[str, Any]] = []
    applied: dict[str, Decimal] = {}
    for feature, targets, changes in plans:
        for row, _factor in targets:
            delta = changes.get(id(row), ZERO)
            if delta == 0:
                continue
            row.usage += delta
            applied[row.feature_id] = applied.get(row.feature_id, ZERO) + delta
            deductions.append(
                {
                    "balance_id": row.id,
                    "feature_id": row.feature_id,
                    "plan_id": row.plan_id,
                    "reset": row.reset_json(),
                    "value": num(delta),
                }
            )
        event: dict[str, Any] = {
            "customer_id": customer_id,
            "feature_id": feature.id,
            "entity_id": entity_id,
            "value": num(params.value),
            "idempotency_key": params.idempotency_key,
            "properties": dict(params.properties or {}),
        }
        if params.timestamp is not None:
            event["timestamp"] = params.timestamp  # when the usage happened, as sent
        store.record(event)
    response: dict[str, Any] = {"customer_id": customer_id}
    if entity_id is not None:
        response["entity_id"] = entity_id
    if params.event_name is not None:
        response["event_name"] = params.event_name
    response["value"] = num(params.value)
    response.update(_track_balances(store, features, applied, customer_id, entity_id))
    response["deductions"] = deductions
    return response


def _track_balances(
    store: Store,
    features: list[Feature],
    applied: dict[str, Decimal],
    customer_id: str,
    entity_id: str | None,
) -> dict[str, Any]:
    """``balance`` and ``balances`` of a track answer (spec §17.5).

    ``deductionToTrackResponseV2.ts``: per tracked feature, the balance shown is an
    unlimited related feature's, else the first related feature (credit systems last)
    that was actually deducted, else the first credit system, else the feature's own;
    ``balance`` is set only when that picks exactly one balance the customer has.
    ``deductionToBalancesResponseV2.ts``: ``balances`` lists every related feature
    (``null`` where the customer has none) once there are two or more.
    """
    shown: dict[str, Any] = {}
    balances: dict[str, Any] = {}
    for feature in features:
        relevant = [
            f
            for f in store.features.values()
            if f.id == feature.id or (f.type == "credit_system" and feature.id in f.credit_schema)
        ]
        rendered = {f.id: store.balance(customer_id, entity_id, f.id) for f in relevant}
        balances.update(rendered)
        ranked = sorted(relevant, key=lambda f: f.type == "credit_system")
        use = next((fid for fid, b in rendered.items() if b is not None and b["unlimited"]), None)
        if use is None:
            use = next((f.id for f in ranked if applied.get(f.id, ZERO) > 0), None)
        if use is None:
            use = next((f.id for f in ranked if f.id != feature.id), feature.id)
        if rendered[use] is not None:
            shown[use] = rendered[use]
    result: dict[str, Any] = {"balance": next(iter(shown.values())) if len(shown) == 1 else None}
    if len(balances) >= 2:
        result["balances"] = balances
    return result
