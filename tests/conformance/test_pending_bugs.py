"""SDK bugs found by the conformance suite, pinned until the SDK's owner fixes them.

Each test states the intended behaviour and is ``xfail(strict=True)``: when the fix
lands it passes, the strict xfail fails the run, and the marker must be removed.
"""

from __future__ import annotations

from typing import Any

import pytest

from autumn_async import AsyncAutumn, UsageError
from autumn_async.emulator import Emulator


@pytest.mark.xfail(
    strict=True,
    raises=OverflowError,
    reason=(
        "autumn_async/_requests.py _number() calls math.isfinite() on an int too large for a "
        "float, which raises OverflowError (not an AutumnError) instead of UsageError"
    ),
)
@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("track", {"feature_id": "messages", "value": 10**400}),
        ("check", {"feature_id": "messages", "required_balance": 10**400}),
        ("create", {"feature_id": "messages", "included": 10**400}),
        ("create", {"feature_id": "messages", "included": 1, "expires_at": 10**400}),
    ],
)
async def test_huge_integer_amounts_are_usage_errors(
    autumn: AsyncAutumn, emu: Emulator, operation: str, kwargs: dict[str, Any]
) -> None:
    """An integer too large for a float is refused with UsageError before anything is sent."""
    with pytest.raises(UsageError):
        await getattr(autumn.balances, operation)(customer_id="c1", **kwargs)
    assert emu.stats() == {}
