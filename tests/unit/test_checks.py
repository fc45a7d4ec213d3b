"""``_checks``: the shared argument checks the request builders and the batcher call."""

from __future__ import annotations

import pytest

from autumn_async import UsageError
from autumn_async._checks import check_event_size, check_id, finite_number
from autumn_async._config import MAX_EVENT_BYTES


def test_event_size_counts_compact_utf8_json_or_given_bytes() -> None:
    """A mapping is measured as compact UTF-8 JSON; bytes are measured as they are."""
    assert check_event_size({"p": "é"}, limit=100) == len('{"p":"é"}'.encode())
    assert check_event_size(b"x" * MAX_EVENT_BYTES, limit=MAX_EVENT_BYTES) == MAX_EVENT_BYTES
    with pytest.raises(UsageError) as info:
        check_event_size(b"x" * (MAX_EVENT_BYTES + 1), limit=MAX_EVENT_BYTES)
    assert info.value.field == "properties"


@pytest.mark.parametrize("bad", ["a\x00", "a\r", "\n", "a\x1f", "a\x7f", "a\x9f", "x" * 11])
def test_check_id_refuses_control_characters_and_length(bad: str) -> None:
    """C0, DEL and C1 characters, and ids over the limit, are refused with the field."""
    with pytest.raises(UsageError) as info:
        check_id(bad, "customer_id", max_length=10)
    assert info.value.field == "customer_id"


@pytest.mark.parametrize("value", [2**53 - 1, -(2**53 - 1), 1e300, 0.5])
def test_finite_number_accepts_what_a_double_holds(value: float) -> None:
    """Integers up to 2**53 - 1 and any finite float pass unchanged."""
    assert finite_number(value, "value") == value


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**64, 10**400])
def test_finite_number_refuses_integers_a_double_cannot_hold(value: int) -> None:
    """Beyond 2**53 - 1 an integer would be counted as another number: refused, named."""
    with pytest.raises(UsageError) as info:
        finite_number(value, "value")
    assert info.value.field == "value"
