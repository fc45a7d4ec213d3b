"""Fault injection per route: error statuses, latency and dropped connections.

A fault fires with its probability, drawn from its own seeded generator so a test run
is repeatable, and at most ``count`` times when a count is given.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._api_errors import ApiError

__all__ = ["FAULT_KINDS", "Fault", "FaultSet", "parse_fault"]

FAULT_KINDS = ("status", "latency", "drop_before", "drop_after")
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
    status = ints["status"] if ints["status"] is not None else (503 if kind == "status" else 0)
    if kind == "status" and not 400 <= status <= 599:
        errors.append("status: must be an HTTP error status (400-599)")
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
    )


@dataclass
class Decision:
    """What to do with one request: wait, then answer an error, drop, or drop after."""

    latency_ms: int = 0
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
            if fault.kind == "latency":
                if fault.fire():
                    decision.latency_ms += fault.latency_ms
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
            }
            for f in self.faults
        ]
