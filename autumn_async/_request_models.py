"""The request side of the models: intervals and the ``reset`` object of ``create``.

Unlike the responses, these are strict: an interval the server would refuse is a
``UsageError`` naming the field before anything is sent.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from ._checks import finite_number
from ._errors import UsageError
from ._public import publish

__all__ = [
    "BalancesCreateInterval",
    "BalancesCreateReset",
    "BalancesUpdateInterval",
    "Interval",
    "coerce_interval",
    "coerce_reset",
]


class Interval(str, enum.Enum):
    """The nine reset intervals Autumn accepts on requests (``reset.interval``,
    ``interval`` filters).

    Response fields stay plain strings: Autumn also answers ``"multiple"`` for
    combined intervals, and may add more.
    """

    ONE_OFF = "one_off"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    SEMI_ANNUAL = "semi_annual"
    YEAR = "year"


#: Name used by the API reference's generated SDK for ``balances.create``.
BalancesCreateInterval = Interval
#: Name used by the API reference's generated SDK for ``balances.update``.
BalancesUpdateInterval = Interval

_INTERVAL_VALUES = frozenset(member.value for member in Interval)
_INTERVAL_LIST = ", ".join(member.value for member in Interval)


# --- request side ----------------------------------------------------------------------


def coerce_interval(value: Interval | str, field: str) -> str:
    """Return the wire string for a request interval given as :class:`Interval` or
    ``str``; raise :class:`UsageError` naming ``field`` for anything else.

    Unknown strings are refused here (Autumn would answer 400) with the valid list.
    """
    if isinstance(value, Interval):
        return value.value
    if not isinstance(value, str):
        raise UsageError(
            f"{field} must be an Interval or a string, got {type(value).__name__}", field=field
        )
    if not value:
        raise UsageError(f"{field} must not be empty; use one of: {_INTERVAL_LIST}", field=field)
    if value not in _INTERVAL_VALUES:
        raise UsageError(
            f"{field} {value!r} is not a reset interval; use one of: {_INTERVAL_LIST}",
            field=field,
        )
    return value


def _check_interval_count(value: object, field: str) -> None:
    if value is None:
        return
    if finite_number(value, field) <= 0:
        raise UsageError(f"{field} must be a finite positive number, got {value!r}", field=field)


def _interval_field(value: Interval | str) -> str:
    return coerce_interval(value, "interval")


def _validate_interval_count(
    _instance: object, _attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    _check_interval_count(value, "interval_count")


@attrs.frozen(kw_only=True)
class BalancesCreateReset:
    """A recurring reset for ``balances.create``: every ``interval_count`` (default 1 on
    the server) ``interval``\\s. Built from a model, a dict or a bare interval string by
    :func:`coerce_reset`."""

    interval: str = attrs.field(converter=_interval_field)
    interval_count: float | None = attrs.field(default=None, validator=_validate_interval_count)


_RESET_KEYS = frozenset({"interval", "interval_count"})


def coerce_reset(
    value: BalancesCreateReset | Mapping[str, Any] | Interval | str, field: str = "reset"
) -> BalancesCreateReset:
    """Build a :class:`BalancesCreateReset` from the model itself, a mapping such as
    ``{"interval": "month", "interval_count": 1}``, or a bare interval (``"month"``).

    Bad input raises :class:`UsageError` whose ``field`` names the offending part
    (``reset``, ``reset.interval``, ``reset.interval_count``).
    """
    if isinstance(value, BalancesCreateReset):
        return value
    if isinstance(value, (str, Interval)):
        return BalancesCreateReset(interval=coerce_interval(value, f"{field}.interval"))
    if isinstance(value, Mapping):
        unknown = sorted(str(key) for key in value if key not in _RESET_KEYS)
        if unknown:
            raise UsageError(
                f"{field} has unknown key(s) {', '.join(unknown)}; "
                "expected interval and optionally interval_count",
                field=field,
            )
        if "interval" not in value:
            raise UsageError(f"{field}.interval is required", field=f"{field}.interval")
        interval = coerce_interval(value["interval"], f"{field}.interval")
        count = value.get("interval_count")
        _check_interval_count(count, f"{field}.interval_count")
        return BalancesCreateReset(interval=interval, interval_count=count)
    raise UsageError(
        f"{field} must be a BalancesCreateReset, a mapping or an interval string, "
        f"got {type(value).__name__}",
        field=field,
    )


# Users import these from the public ``models`` module, which re-exports them.
publish(globals(), ("BalancesCreateReset", "Interval"), "autumn_async.models")
