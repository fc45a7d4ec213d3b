"""Argument checks shared by the request builders and the option objects."""

from __future__ import annotations

import math

from ._errors import UsageError

__all__ = ["finite_number"]


def finite_number(value: object, field: str) -> float:
    """``value`` as a finite number, or a :class:`UsageError` naming ``field``.

    ``bool`` is refused (it is an ``int`` to Python, never a quantity to Autumn), and so is
    an ``int`` too large for a float (``math.isfinite`` would raise ``OverflowError``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{field} must be a number, got {type(value).__name__}", field=field)
    try:
        as_float = float(value)
    except OverflowError:
        raise UsageError(
            f"{field} is too large to be a number Autumn accepts", field=field
        ) from None
    if not math.isfinite(as_float):
        raise UsageError(f"{field} must be a finite number, got {value!r}", field=field)
    return value
