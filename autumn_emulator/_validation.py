"""Request validation with the real server's rules and zod-like messages.

The server validates bodies with zod (non-strict objects: unknown keys are dropped) and
rewrites its messages as ``"<path>: must be a string (received undefined)"``; several
problems are joined as ``"[Validation Errors] a; b"``. Optional fields given as ``null``
are treated as absent here (the SDK never sends them; being lenient costs nothing).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ._api_errors import ApiError, invalid_inputs

__all__ = [
    "INTERVALS",
    "DEFAULT_VERSION",
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

#: Versions the server knows (``ApiVersion.ts``; 2.4 and 2.5 from its newer snapshots).
_SEMVERS = frozenset(
    {
        (0, 1, 0),
        (0, 2, 0),
        (1, 1, 0),
        (1, 2, 0),
        (2, 0, 0),
        (2, 1, 0),
        (2, 2, 0),
        (2, 3, 0),
        (2, 4, 0),
        (2, 5, 0),
    }
)
#: The beta version (``V1_Beta``), reached as ``"beta"`` or the legacy float ``1.4``.
BETA_VERSION = (1, 4, 0)
#: CalVer names of the versions (``versionRegistry.ts``); an unknown date is refused.
_CALVERS = {
    "2025-02-01": (0, 1, 0),
    "2025-04-01": (0, 2, 0),
    "2025-04-17": (1, 1, 0),
    "2025-05-05": (1, 2, 0),
    "beta": BETA_VERSION,
    "2026-03-16": (2, 0, 0),
    "2026-03-17": (2, 1, 0),
    "2026-03-18": (2, 2, 0),
    "2026-05-13": (2, 3, 0),
}
#: Legacy floats (``legacyToSemVer``): 1 and 0.2 are 0.2.0, 1.4 is the beta.
_LEGACY = {1.0: (0, 2, 0), 0.2: (0, 2, 0), 0.1: (0, 1, 0), 1.1: (1, 1, 0), 1.2: (1, 2, 0)}
_LEGACY[1.4] = BETA_VERSION
LATEST_VERSION = (2, 5, 0)
#: What a request without ``x-api-version`` gets: a new organisation's default at the
#: server snapshot the emulator follows (``createdAtToVersion``: 2.3.0).
DEFAULT_VERSION = (2, 3, 0)
_SEMVER = re.compile(r"^\d+(\.\d+)*$")
_CALVER = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.clover)?$")
_FLOAT_PREFIX = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)")


def parse_api_version(value: str | None) -> tuple[int, int, int]:
    """Normalise an ``x-api-version`` header as ``parseVersion`` does
    (``convertVersionUtils.ts``).

    ``"2.1"`` and ``"2.1.0"`` are 2.1.0; a known CalVer date (optionally ``.clover``)
    maps to its version; a legacy float (``"1.1"``) to its version. Anything else —
    an unknown patch (``"2.1.1"``), minor (``"2.9"``) or date — is 400
    ``invalid_api_version``. A missing or empty header means :data:`DEFAULT_VERSION`.
    """
    text = value.strip() if value else ""  # HTTP strips the blanks around a header value
    if not text:  # the server treats an empty header as a missing one
        return DEFAULT_VERSION
    calver = _CALVER.match(text)
    if calver:
        if calver.group(1) in _CALVERS:
            return _CALVERS[calver.group(1)]
    elif _SEMVER.match(text):
        parts = [int(part) for part in text.split(".")[:3]]
        parts += [0] * (3 - len(parts))
        major, minor, patch = parts
        if (major, minor, patch) in _SEMVERS:  # "2.1.0.0" reads as 2.1.0 there too
            return (major, minor, patch)
    if text == "beta":
        return BETA_VERSION
    number = _FLOAT_PREFIX.match(text)
    if number and not calver:
        legacy = _LEGACY.get(float(number.group(1)))
        if legacy is not None:
            return legacy
    raise ApiError(400, "invalid_api_version", f'"{value}" is not a valid API version')


def mask_key(key: str) -> str:
    """Return ``key`` with all but a short prefix hidden, for error messages."""
    shown = min(6, len(key) // 2)
    return key[:shown] + "*" * 4


def env_for_key(key: str) -> str:
    """Return ``"sandbox"`` for test keys (``am_sk_test…``) and ``"live"`` otherwise."""
    return "sandbox" if key.startswith("am_sk_test") else "live"


#: Token prefixes the server routes elsewhere (``secretKeyMiddleware.ts``); the emulator
#: knows no publishable keys, OAuth tokens or customer JWTs, so it refuses them as unknown.
_OTHER_PREFIXES = ("am_pk", "am_oauth_", "am_jwt_")


def authenticate(authorization: str | None, keys: Collection[str]) -> str:
    """Check a ``Bearer`` header against the configured secret keys and return the env.

    As ``secretKeyMiddleware.ts``: no bearer token is 401 ``no_secret_key``; a token
    without a known prefix (``am_sk``, ``am_pk``, ``am_oauth_``, ``am_jwt_``) is 401
    ``invalid_request``; an unknown key is 401 ``invalid_secret_key`` (masked).
    """
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "no_secret_key", "Secret key not found in Authorization header")
    key = authorization[len("Bearer ") :].strip()
    if not key:
        raise ApiError(401, "no_secret_key", "Secret key not found in Authorization header")
    if not key.startswith(("am_sk", *_OTHER_PREFIXES)):
        raise ApiError(401, "invalid_request", "Invalid authorization token prefix")
    if key not in keys:
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
