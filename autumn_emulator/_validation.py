"""Request validation with the real server's rules and zod-like messages.

The server validates bodies with zod (non-strict objects: unknown keys are dropped) and
rewrites its messages as ``"<path>: must be a string (received undefined)"``; several
problems are joined as ``"[Validation Errors] a; b"``. Optional fields given as ``null``
are treated as absent here (the SDK never sends them; being lenient costs nothing).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ._api_errors import ApiError, invalid_inputs

__all__ = [
    "INTERVALS",
    "LATEST_VERSION",
    "Checker",
    "authenticate",
    "env_for_key",
    "mask_key",
    "parse_api_version",
]

INTERVALS = (
    "one_off",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "semi_annual",
    "year",
)

#: Versions the server knows, as (major, minor). "2.9" is rejected, as the real server does.
_KNOWN_VERSIONS = frozenset(
    {(0, 1), (0, 2), (1, 1), (1, 2), (1, 4), (2, 0), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5)}
)
LATEST_VERSION = (2, 5, 0)
_SEMVER = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_CALVER = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_api_version(value: str | None) -> tuple[int, int, int]:
    """Normalise an ``x-api-version`` header (``"2.1"``, ``"2"``, ``"2.1.0"``, ``"2026-03-01"``).

    A missing header means the organisation's default, which for the emulator is the
    latest version. Anything else raises 400 ``invalid_api_version``.
    """
    if value is None:
        return LATEST_VERSION
    text = value.strip()
    match = _SEMVER.match(text)
    if match:
        major, minor, patch = (int(part) if part else 0 for part in match.groups())
        if (major, minor) in _KNOWN_VERSIONS:
            return (major, minor, patch)
    elif _CALVER.match(text):
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            pass
        else:
            return LATEST_VERSION
    raise ApiError(400, "invalid_api_version", f'"{value}" is not a valid API version')


def mask_key(key: str) -> str:
    """Return ``key`` with all but a short prefix hidden, for error messages."""
    shown = min(6, len(key) // 2)
    return key[:shown] + "*" * 4


def env_for_key(key: str) -> str:
    """Return ``"sandbox"`` for test keys (``am_sk_test…``) and ``"live"`` otherwise."""
    return "sandbox" if key.startswith("am_sk_test") else "live"


def authenticate(authorization: str | None, keys: Collection[str]) -> str:
    """Check a ``Bearer`` header against the configured secret keys and return the env."""
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "no_secret_key", "Secret key not found in Authorization header")
    key = authorization[len("Bearer ") :].strip()
    if not key.startswith("am_") or key not in keys:
        raise ApiError(401, "invalid_secret_key", f"Invalid secret key: {mask_key(key)}")
    return env_for_key(key)


def _received(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object"


_MISSING = object()


class Checker:
    """Collects zod-like problems for one object; ``done()`` raises them all at once."""

    def __init__(self, body: object, path: str = "", errors: list[str] | None = None) -> None:
        self.errors: list[str] = [] if errors is None else errors
        self.path = path
        if isinstance(body, Mapping):
            self.body: Mapping[str, Any] = body
        else:
            self.body = {}
            self.errors.append(f"{path or 'input'}: must be an object (received {_received(body)})")

    def _get(self, name: str, required: bool, kind: str) -> object:
        value = self.body.get(name, _MISSING)
        if value is _MISSING or (value is None and not required):
            if required:
                self._fail(name, f"must be {kind} (received undefined)")
            return _MISSING
        return value

    def _fail(self, name: str, message: str) -> None:
        self.errors.append(f"{self.path}{name}: {message}")

    def string(self, name: str, *, required: bool = False) -> str | None:
        """Read a string field; required strings must not be empty."""
        value = self._get(name, required, "a string")
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self._fail(name, f"must be a string (received {_received(value)})")
            return None
        if required and not value:
            self._fail(name, "must contain at least 1 character")
            return None
        return value

    def number(self, name: str, *, required: bool = False) -> Decimal | None:
        """Read a finite JSON number as a ``Decimal`` (no binary float drift)."""
        value = self._get(name, required, "a number")
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._fail(name, f"must be a number (received {_received(value)})")
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:  # pragma: no cover - str() of a float always parses
            number = Decimal("NaN")
        if not number.is_finite():
            self._fail(name, "must be a finite number")
            return None
        return number

    def boolean(self, name: str) -> bool | None:
        """Read an optional boolean field."""
        value = self._get(name, False, "a boolean")
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self._fail(name, f"must be a boolean (received {_received(value)})")
            return None
        return value

    def choice(self, name: str, values: Sequence[str], *, required: bool = False) -> str | None:
        """Read a string that must be one of ``values``."""
        value = self._get(name, required, f"one of: {', '.join(values)}")
        if value is _MISSING:
            return None
        if value not in values:
            self._fail(name, f"must be one of: {', '.join(values)}")
            return None
        assert isinstance(value, str)
        return value

    def mapping(self, name: str) -> dict[str, Any] | None:
        """Read an optional JSON object."""
        value = self._get(name, False, "an object")
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self._fail(name, f"must be an object (received {_received(value)})")
            return None
        return dict(value)

    def nested(self, name: str) -> Checker | None:
        """Return a checker for an optional nested object, sharing this checker's errors."""
        value = self._get(name, False, "an object")
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self._fail(name, f"must be an object (received {_received(value)})")
            return None
        return Checker(value, f"{self.path}{name}.", self.errors)

    def problem(self, message: str) -> None:
        """Record a problem that is not about one field (a cross-field rule)."""
        self.errors.append(message)

    def done(self) -> None:
        """Raise 400 ``invalid_inputs`` if anything was wrong."""
        raise_errors(self.errors)


def raise_errors(errors: Sequence[str]) -> None:
    """Raise 400 ``invalid_inputs`` with the server's formatting of ``errors``, if any."""
    if len(errors) == 1:
        raise invalid_inputs(errors[0])
    if errors:
        raise invalid_inputs("[Validation Errors] " + "; ".join(errors))
