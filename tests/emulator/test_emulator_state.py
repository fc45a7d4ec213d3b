"""The emulator's state rules, called directly without HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest
from emulator_support import T0, FakeClock

from autumn_emulator import ApiError, EmulatorState
from autumn_emulator._balance_rows import Row, add_interval, plan_deduction
from autumn_emulator._validation import parse_api_version


def _state() -> EmulatorState:
    state = EmulatorState(FakeClock())
    state.add_feature({"id": "messages"})
    state.add_customer("c1")
    state.create({"customer_id": "c1", "feature_id": "messages", "granted_balance": 10})
    return state


def test_state_tracks_without_a_server() -> None:
    """Track through the state object deducts and records the event."""
    state = _state()
    result = state.track({"customer_id": "c1", "feature_id": "messages", "value": 4})
    assert result["balance"]["remaining"] == 6
    assert len(state.ledger) == 1


def test_state_raises_api_errors() -> None:
    """Failures are ApiError with the server's status and code."""
    state = _state()
    with pytest.raises(ApiError) as caught:
        state.check({"customer_id": "c1", "feature_id": "nope"})
    assert (caught.value.status, caught.value.code) == (404, "feature_not_found")


def test_plan_deduction_two_passes_respect_max_purchase() -> None:
    """Pass 1 empties rows, pass 2 uses overage only up to max_purchase."""
    plain = Row("c1", "m", included_grant=Decimal(2))
    overage = Row(
        "c1", "m", included_grant=Decimal(1), overage_allowed=True, max_purchase=Decimal(3)
    )
    changes, left = plan_deduction([(plain, Decimal(1)), (overage, Decimal(1))], Decimal(10))
    assert changes[id(plain)] == 2
    assert changes[id(overage)] == 4
    assert left == 4


def test_add_interval_clamps_to_month_end() -> None:
    """A monthly step from January 31 lands on the last day of February."""
    jan31 = 1_769_817_600_000  # 2026-01-31T00:00:00Z
    assert add_interval(jan31, "month") == 1_772_236_800_000  # 2026-02-28T00:00:00Z
    assert add_interval(T0, "day", 2) == T0 + 2 * 86_400_000


def test_parse_api_version_normalises() -> None:
    """Version strings normalise to (major, minor, patch)."""
    assert parse_api_version("2.1") == (2, 1, 0)
    assert parse_api_version("2") == (2, 0, 0)
    assert parse_api_version(" 2.1.0 ") == (2, 1, 0)
    with pytest.raises(ApiError):
        parse_api_version("2026-02-30")
