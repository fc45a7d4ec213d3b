"""Generated readers agree with the cattrs converter: the same model, or both refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autumn_async import models
from autumn_async._fastread import reader_for
from autumn_async._serde import _FAST

FIXTURES = Path(__file__).parent.parent / "fixtures" / "examples"
BODIES: list[tuple[type[Any], Any]] = (
    [
        (models.BalancesCheckResponse, json.loads((FIXTURES / name).read_text()))
        for name in sorted(p.name for p in FIXTURES.glob("balances_check_response_*.json"))
    ]
    + [
        (models.BalancesTrackResponse, json.loads((FIXTURES / name).read_text()))
        for name in sorted(p.name for p in FIXTURES.glob("balances_track_response_*.json"))
    ]
    + [(models.Balance, json.loads((FIXTURES / "balance_usage_based_example.json").read_text()))]
    # Customer and entity shapes (apiCustomerV5.ts, apiEntityV2.ts): JSON-valued fields.
    + [
        (models.Customer, json.loads((FIXTURES / "customer_v5_example.json").read_text())),
        (models.Entity, json.loads((FIXTURES / "entity_v2_example.json").read_text())),
        (
            models.CustomersListResponse,
            json.loads((FIXTURES / "customers_list_offset_page.json").read_text()),
        ),
    ]
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.just("inf"),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def outcome(fn: Any, data: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(data))
    except Exception:
        return ("refused", None)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location inside a decoded JSON value."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(data: Any, where: tuple[Any, ...], new: Any, delete: bool) -> Any:
    copy = json.loads(json.dumps(data))
    target = copy
    for step in where[:-1]:
        target = target[step]
    if delete and isinstance(target, dict):
        del target[where[-1]]
    else:
        target[where[-1]] = new
    return copy


@pytest.mark.parametrize(("cls", "body"), BODIES)
def test_examples_read_the_same_both_ways(cls: type[Any], body: Any) -> None:
    """Every spec example gives the same model through the reader and through cattrs."""
    reader = reader_for(cls)
    assert reader is not None
    assert reader(body) == _FAST.structure(body, cls)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_bodies_get_the_same_verdict(data: st.DataObject) -> None:
    """Replacing or deleting any value anywhere: both accept with equal models, or both refuse."""
    cls, body = data.draw(st.sampled_from(BODIES))
    where = data.draw(st.sampled_from(paths(body)))
    new = data.draw(SCALARS)
    delete = data.draw(st.booleans())
    mutated = mutate(body, where, new, delete)
    reader = reader_for(cls)
    assert reader is not None
    fast = outcome(reader, mutated)
    slow = outcome(lambda d: _FAST.structure(d, cls), mutated)
    assert fast[0] == slow[0], (where, new, delete)
    assert fast[1] == slow[1]


def test_every_response_model_has_a_reader() -> None:
    """No response class silently falls back to the slower path."""
    for name in models.__all__:
        cls = getattr(models, name)
        if isinstance(cls, type) and attrs.has(cls):
            assert reader_for(cls) is not None, name
