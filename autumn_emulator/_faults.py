"""Fault injection per route: error statuses, latency and dropped connections.

A fault fires with its probability, drawn from its own seeded generator so a test run
is repeatable, and at most ``count`` times when a count is given.

Kinds: ``status`` (answer an error, or the server's own 202, before doing anything),
``latency`` (wait before the request is handled), ``in_flight`` (wait after the request
has claimed its idempotency keys and before it does the work, so a duplicate can arrive
while it runs), ``drop_before`` / ``drop_after`` (close the connection before / after
the change is applied) and ``error_after`` (apply the change, release the keys, answer
a 5xx: what Autumn does when it fails after deducting, ``withIdempotencyKey.ts``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._api_errors import ApiError

__all__ = ["FAULT_KINDS", "Fault", "FaultSet", "parse_fault"]

FAULT_KINDS = ("status", "latency", "in_flight", "drop_before", "drop_after", "error_after")
#: Waits rather than answers: they add up and combine with one answering fault.
WAIT_KINDS = frozenset({"latency", "in_flight"})
#: Routes whose 202 the server answers itself (check fail-open, track queued).
ACCEPTED_ROUTES = frozenset({"/v1/balances.check", "/v1/balances.track"})
RATE_LIMIT_TEXT = "Too many requests, please try again later."


@dataclass
class Fault:
    """One injected fault; ``route`` is a path such as ``/v1/balances.track`` or ``*``."""

    route: str
    kind: str
    probability: float = 1.0
    status: int = 503
    retry_after: int | None = None
    latency_ms: int = 100
    seed: int | None = None
    count: int | None = None
    gateway: bool = False
    applied: bool = True
    drop: bool = False
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def matches(self, route: str) -> bool:
        """Whether the fault applies to ``route``."""
        return self.route in ("*", route)

    def fire(self) -> bool:
        """Roll the dice and use up one application when it fires."""
        if self.count is not None and self.count <= 0:
            return False
        if self.probability < 1 and self.rng.random() >= self.probability:
            return False
        if self.count is not None:
            self.count -= 1
        return True


#: Boolean options: ``gateway`` (a 5xx from a proxy: HTML, no Autumn JSON), ``applied``
#: (``error_after`` only: ``false`` fails the request in flight without applying it),
#: ``drop`` (``in_flight`` only: close the client's connection as the wait starts; the
#: request carries on, as behind a proxy that reset the client).
_FLAGS = {"gateway": False, "applied": True, "drop": False}


def parse_fault(body: Mapping[str, Any]) -> Fault:
    """Build a fault from the admin route's JSON body, or raise 400 ``invalid_inputs``."""
    errors = []
    route, kind = body.get("route"), body.get("kind", "status")
    if not isinstance(route, str) or not (route.startswith("/") or route == "*"):
        errors.append("route: must be a path like /v1/balances.track or *")
    if kind not in FAULT_KINDS:
        errors.append(f"kind: must be one of: {', '.join(FAULT_KINDS)}")
    probability = body.get("probability", 1.0)
    if (
        isinstance(probability, bool)
        or not isinstance(probability, (int, float))
        or not 0 <= probability <= 1
    ):
        errors.append("probability: must be a number between 0 and 1")
    ints = {}
    for name in ("status", "retry_after", "latency_ms", "seed", "count"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            errors.append(f"{name}: must be an integer")
        ints[name] = value
    default_status = {"status": 503, "error_after": 500}.get(str(kind), 0)
    status = ints["status"] if ints["status"] is not None else default_status
    if kind == "status" and status == 202:
        if route not in ACCEPTED_ROUTES:
            errors.append("status: 202 is answered only by /v1/balances.check and .track")
    elif kind == "status" and not 400 <= status <= 599:
        errors.append("status: must be an HTTP error status (400-599) or 202")
    if kind == "error_after" and not 500 <= status <= 599:
        errors.append("status: error_after answers a 5xx (500-599)")
    flags = {name: body.get(name, default) for name, default in _FLAGS.items()}
    errors.extend(
        f"{name}: must be a boolean" for name, v in flags.items() if not isinstance(v, bool)
    )
    if errors:
        raise ApiError(400, "invalid_inputs", "; ".join(errors))
    assert isinstance(route, str)
    assert isinstance(kind, str)
    return Fault(
        route=route,
        kind=kind,
        probability=float(probability),
        status=status,
        retry_after=ints["retry_after"],
        latency_ms=ints["latency_ms"] if ints["latency_ms"] is not None else 100,
        seed=ints["seed"],
        count=ints["count"],
        gateway=bool(flags["gateway"]),
        applied=bool(flags["applied"]),
        drop=bool(flags["drop"]),
    )


@dataclass
class Decision:
    """What to do with one request: wait, then answer an error, drop, or drop after.

    ``latency_ms`` is waited before the request is handled, ``in_flight_ms`` after it
    has claimed its idempotency keys and before it does the work.
    """

    latency_ms: int = 0
    in_flight_ms: int = 0
    in_flight_drop: bool = False
    action: Fault | None = None


class FaultSet:
    """The faults in force, in the order they were added."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Add a fault (several may apply to one route)."""
        self.faults.append(fault)

    def clear(self, route: str | None = None) -> None:
        """Remove every fault, or only those for ``route``."""
        self.faults = [] if route is None else [f for f in self.faults if f.route != route]

    def decide(self, route: str) -> Decision:
        """Roll every matching fault: latencies add up, the first other fault wins."""
        decision = Decision()
        for fault in self.faults:
            if not fault.matches(route):
                continue
            if fault.kind in WAIT_KINDS:
                if fault.fire():
                    if fault.kind == "latency":
                        decision.latency_ms += fault.latency_ms
                    else:
                        decision.in_flight_ms += fault.latency_ms
                        decision.in_flight_drop |= fault.drop
            elif decision.action is None and fault.fire():
                decision.action = fault
        return decision

    def to_json(self) -> list[dict[str, Any]]:
        """Return the faults in force, for the admin route."""
        return [
            {
                "route": f.route,
                "kind": f.kind,
                "probability": f.probability,
                "status": f.status,
                "retry_after": f.retry_after,
                "latency_ms": f.latency_ms,
                "seed": f.seed,
                "count": f.count,
                "gateway": f.gateway,
                "applied": f.applied,
                "drop": f.drop,
            }
            for f in self.faults
        ]
