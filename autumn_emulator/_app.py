"""The aiohttp.web application: the ``/v1`` routes, the ``/_emulator`` admin routes, faults."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ._api_errors import ApiError
from ._customer_routes import CUSTOMER_ROUTES
from ._entity_routes import ENTITY_ROUTES
from ._faults import RATE_LIMIT_TEXT, Decision, Fault, FaultSet, parse_fault
from ._state import EmulatorState
from ._tracking import releases_key
from ._validation import authenticate, env_for_key, parse_api_version

__all__ = ["CONTEXT", "EmulatorContext", "V1_ROUTES", "create_app"]

logger = logging.getLogger("autumn_emulator")

_Op = Callable[[EmulatorState, Any, str, tuple[int, int, int]], dict[str, Any]]

#: The served API routes and the state operation behind each.
V1_ROUTES: dict[str, _Op] = {
    "/v1/balances.create": lambda s, body, env, version: s.create(body),
    "/v1/balances.update": lambda s, body, env, version: s.update(body),
    "/v1/balances.check": lambda s, body, env, version: s.check(body, env, version),
    "/v1/balances.track": lambda s, body, env, version: s.track(body, env, version),
    "/v1/balances.batch_track": lambda s, body, env, version: s.batch_track(body, env, version),
    "/v1/customers": lambda s, body, env, version: s.get_or_create_customer(body, env),
    **CUSTOMER_ROUTES,
    **ENTITY_ROUTES,
}


@dataclass
class EmulatorContext:
    """What the app serves from: the state, the accepted keys, the faults, the counters."""

    state: EmulatorState
    secret_keys: Collection[str]
    faults: FaultSet = field(default_factory=FaultSet)
    stats: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        """Clear the state, the faults and the counters."""
        self.state.clear()
        self.faults.clear()
        self.stats.clear()


CONTEXT = web.AppKey("autumn_emulator_context", EmulatorContext)

_TRACK = "/v1/balances.track"
_CHECK = "/v1/balances.check"

#: The server's rate-limit buckets per route, as (limit, window in seconds): spec §9.6,
#: ``rateLimitConfigs.ts``. Every limited answer carries them as ``RateLimit-*`` headers.
_BUCKETS: dict[str, tuple[int, int]] = {
    _TRACK: (10_000, 1),
    "/v1/balances.update": (10_000, 1),
    _CHECK: (10_000, 1),
    "/v1/balances.create": (25, 1),
    "/v1/balances.batch_track": (10, 1),
}
_GENERAL_BUCKET = (1_000, 1)

#: Bodies of the statuses a ``status`` fault answers with the server's own words.
_FAULT_BODIES: dict[int, tuple[str, str]] = {
    # requestBlockMiddleware.ts: an organisation blocked for a while.
    403: (
        "request_temporarily_disabled",
        "API access is temporarily disabled for this organization",
    ),
}
_GATEWAY_PAGE = "<html><body><h1>{status} Bad Gateway</h1></body></html>"


def _rate_headers(route: str, *, remaining: int | None = None, reset: int = 1) -> dict[str, str]:
    """hono-rate-limiter's draft-6 headers for ``route``'s bucket."""
    limit, window = _BUCKETS.get(route, _GENERAL_BUCKET)
    return {
        "RateLimit-Policy": f"{limit};w={window}",
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(limit - 1 if remaining is None else remaining),
        "RateLimit-Reset": str(reset),
    }


def _error(exc: ApiError, env: str, route: str | None = None) -> web.Response:
    # Past authentication every answer has gone through the route's rate limiter.
    headers = {**(_rate_headers(route) if route else {}), **exc.headers}
    if exc.status == 503:
        headers.setdefault("Retry-After", "1")
    return web.json_response(exc.body(env), status=exc.status, headers=headers)


async def _read_json(request: web.Request) -> Any:
    # The server treats a body that is not JSON (or is empty) as {} before validating;
    # nesting too deep for Python's parser is unparsable too (a 400, never a 500).
    raw = await request.read()
    try:
        return json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        return {}


def _drop(request: web.Request) -> web.Response:
    # Aborting the transport makes the client see a server disconnect with no response;
    # aiohttp then finds nothing to write the returned response to.
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)


def _fault_response(fault: Fault, env: str, route: str) -> web.Response:
    retry_after = fault.retry_after
    if fault.status == 429:
        wait = 1 if retry_after is None else retry_after
        headers = {"Retry-After": str(wait), **_rate_headers(route, remaining=0, reset=wait)}
        return web.Response(status=429, text=RATE_LIMIT_TEXT, headers=headers)
    headers = {}
    if fault.status == 503 or retry_after is not None:
        headers["Retry-After"] = str(1 if retry_after is None else retry_after)
    if fault.gateway and fault.status >= 500:
        # A proxy in front of Autumn: nothing reached the application, no JSON body.
        page = _GATEWAY_PAGE.format(status=fault.status)
        return web.Response(
            status=fault.status, text=page, content_type="text/html", headers=headers
        )
    code, message = _FAULT_BODIES.get(fault.status, ("invalid_request", "Injected fault"))
    if fault.status >= 500:
        code, message = "internal_error", "Internal server error"
    body = {"message": message, "code": code, "env": env}
    return web.json_response(body, status=fault.status, headers=headers)


def _env_of(request: web.Request) -> str:
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        return env_for_key(authorization[len("Bearer ") :].strip())
    return "sandbox"


async def _in_flight(request: web.Request, decision: Decision) -> None:
    """The request holds its keys: wait, maybe after losing the client, maybe fail."""
    if decision.in_flight_drop and request.transport is not None:
        request.transport.abort()  # the client sees a reset; the work goes on
    await _hold(decision.in_flight_ms)
    fault = decision.action
    if fault is not None and fault.kind == "error_after" and not fault.applied:
        raise ApiError(fault.status, "internal_error", "Internal server error")


async def _hold(ms: int) -> None:
    if ms:
        await asyncio.sleep(ms / 1000)


async def _run(
    ctx: EmulatorContext,
    request: web.Request,
    op: _Op,
    decision: Decision,
    claims: list[tuple[str, str]],
) -> tuple[int, str, Any]:
    """Authenticate, claim the keys, wait while in flight, do the work.

    Returns (status, env, body). ``claims`` collects every (scope, key) this request
    holds, so the caller can release them (``withIdempotencyKey.ts``).
    """
    state, route, fault = ctx.state, request.path, decision.action
    env = authenticate(request.headers.get("Authorization"), ctx.secret_keys)
    version = parse_api_version(request.headers.get("x-api-version"))
    body = await _read_json(request)
    header_key = request.headers.get("Idempotency-Key")
    if header_key is not None:
        # idempotencyMiddleware.ts: claimed before the route validates anything.
        state.idempotency.claim(f"{env}:header", header_key)
        claims.append((f"{env}:header", header_key))
    accepted = fault is not None and fault.kind == "status" and fault.status == 202
    if route == _CHECK and accepted:
        return 202, env, state.check_fallback(body)
    if route == _TRACK:
        staged = state.begin_track(body, env, version, force_queue=accepted)
        claims.extend((env, key) for key in staged.claims)
        await _in_flight(request, decision)
        status, result = state.finish_track(staged, env, version)
        return status, env, result
    await _in_flight(request, decision)
    return 200, env, op(state, body, env, version)


async def _process(
    request: web.Request, ctx: EmulatorContext, op: _Op, decision: Decision
) -> web.Response:
    env = _env_of(request)  # what the server reports, even when authentication fails
    claims: list[tuple[str, str]] = []
    store = ctx.state.idempotency
    fault = decision.action
    try:
        try:
            status, env, result = await _run(ctx, request, op, decision, claims)
        except BaseException as exc:
            if releases_key(exc):
                for scope, key in claims:
                    store.release(scope, key)
            raise
    except ApiError as exc:
        if exc.status == 401:
            return _error(exc, "sandbox")
        return _error(exc, env, request.path)
    except Exception:
        logger.exception("emulator bug while serving %s", request.path)
        return _error(ApiError(500, "internal_error", "Internal server error"), env)
    if fault is not None and fault.kind == "error_after":
        # The change is applied, then the request fails: the server releases the keys
        # (an error >= 400 other than 409), so a resend under the same key applies again.
        for scope, key in claims:
            store.release(scope, key)
        error = ApiError(fault.status, "internal_error", "Internal server error")
        return _error(error, env, request.path)
    headers = _rate_headers(request.path)
    return web.json_response(result, status=status, headers=headers)


def _v1_handler(op: _Op) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT]
        route = request.path
        ctx.stats[route] += 1
        decision = ctx.faults.decide(route)
        try:
            # Read (and cache) the body first: latency models a slow server that has the
            # request, so a client that gives up meanwhile may still see it applied.
            await request.read()
        except ConnectionError:
            return web.Response(status=400)  # the client went away; no one to answer
        await _hold(decision.latency_ms)
        fault = decision.action
        if fault is not None and fault.kind == "drop_before":
            return _drop(request)
        if fault is not None and fault.kind == "status" and fault.status != 202:
            return _fault_response(fault, _env_of(request), route)
        response = await _process(request, ctx, op, decision)
        if fault is not None and fault.kind == "drop_after":
            return _drop(request)
        return response

    return handle


def _admin(
    action: Callable[[EmulatorContext, Any, web.Request], Any],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT]
        body = await _read_json(request) if request.method in ("POST", "PUT") else {}
        try:
            return web.json_response(action(ctx, body, request))
        except ApiError as exc:
            return _error(exc, "sandbox")

    return handle


def _entities(body: dict[str, Any]) -> list[str]:
    items = body.get("entities") or []
    if not isinstance(items, list):
        raise ApiError(400, "invalid_inputs", "entities: must be an array")
    ids: list[str] = []
    for item in items:
        entity_id = item.get("id") if isinstance(item, dict) else item
        if not isinstance(entity_id, str) or not entity_id:
            raise ApiError(400, "invalid_inputs", "entities: must be ids or objects with an id")
        ids.append(entity_id)
    return ids


def _add_feature(ctx: EmulatorContext, body: Any, _r: web.Request) -> Any:
    return ctx.state.add_feature(body if isinstance(body, dict) else {}).to_json()


def _add_customer(ctx: EmulatorContext, body: Any, _r: web.Request) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        raise ApiError(400, "invalid_inputs", "id: must be a string (received undefined)")
    name = body.get("name") if isinstance(body.get("name"), str) else None
    customer = ctx.state.add_customer(body["id"], name, _entities(body))
    return ctx.state.customer_json(customer, "sandbox")


def _get_balances(ctx: EmulatorContext, _body: Any, request: web.Request) -> Any:
    customer_id = request.query.get("customer_id")
    if not customer_id:
        raise ApiError(400, "invalid_inputs", "customer_id: query parameter is required")
    entity_id = request.query.get("entity_id")
    ctx.state.customer(customer_id, entity_id)
    result: dict[str, Any] = {"customer_id": customer_id}
    if entity_id is not None:
        result["entity_id"] = entity_id
    result["balances"] = ctx.state.balances(customer_id, entity_id)
    return result


def _seed_balance(ctx: EmulatorContext, body: Any, _r: web.Request) -> Any:
    row = ctx.state.seed_balance(body if isinstance(body, dict) else {})
    return ctx.state.balance(row.customer_id, row.entity_id, row.feature_id)


def _add_fault(ctx: EmulatorContext, body: Any, _r: web.Request) -> Any:
    ctx.faults.add(parse_fault(body if isinstance(body, dict) else {}))
    return {"faults": ctx.faults.to_json()}


def _clear_faults(ctx: EmulatorContext, _body: Any, request: web.Request) -> Any:
    ctx.faults.clear(request.query.get("route"))
    return {"faults": ctx.faults.to_json()}


def _clock(ctx: EmulatorContext, body: Any, _r: web.Request) -> Any:
    advance = body.get("advance_ms", 0) if isinstance(body, dict) else 0
    if isinstance(advance, bool) or not isinstance(advance, int) or advance < 0:
        raise ApiError(400, "invalid_inputs", "advance_ms: must be a non-negative integer")
    ctx.state.advance(advance)
    return {"now": ctx.state.now()}


def _reset(ctx: EmulatorContext, _body: Any, _r: web.Request) -> Any:
    ctx.reset()
    return {"success": True}


async def _list_features(request: web.Request) -> web.Response:
    """``GET /v1/features`` (``internal/features/handlers/handleListFeatures.ts``): any
    valid secret key may list its features; fleet workers call it to check their key."""
    ctx = request.app[CONTEXT]
    ctx.stats[request.path] += 1
    try:
        authenticate(request.headers.get("Authorization"), ctx.secret_keys)
    except ApiError as exc:
        return _error(exc, "sandbox")
    features = [{**f.to_json(), "archived": False} for f in ctx.state.features.values()]
    return web.json_response({"list": features}, headers=_rate_headers(request.path))


def create_app(ctx: EmulatorContext) -> web.Application:
    """Build the emulator's web application around ``ctx``."""
    app = web.Application()
    app[CONTEXT] = ctx
    for path, op in V1_ROUTES.items():
        app.router.add_post(path, _v1_handler(op))
    app.router.add_get("/v1/features", _list_features)
    a = "/_emulator"
    add, get = app.router.add_post, app.router.add_get
    add(f"{a}/features", _admin(_add_feature))
    get(f"{a}/features", _admin(lambda c, _b, _r: [f.to_json() for f in c.state.features.values()]))
    add(f"{a}/customers", _admin(_add_customer))
    add(f"{a}/balances", _admin(_seed_balance))
    get(f"{a}/balances", _admin(_get_balances))
    get(f"{a}/ledger", _admin(lambda c, _b, _r: {"events": list(c.state.ledger)}))
    get(f"{a}/dropped", _admin(lambda c, _b, _r: {"events": list(c.state.dropped)}))
    add(f"{a}/faults", _admin(_add_fault))
    get(f"{a}/faults", _admin(lambda c, _b, _r: {"faults": c.faults.to_json()}))
    app.router.add_delete(f"{a}/faults", _admin(_clear_faults))
    add(f"{a}/reset", _admin(_reset))
    get(
        f"{a}/stats",
        _admin(lambda c, _b, _r: {"requests": dict(c.stats), "total": c.stats.total()}),
    )
    add(f"{a}/clock", _admin(_clock))
    get(f"{a}/clock", _admin(lambda c, _b, _r: {"now": c.state.now()}))
    return app
