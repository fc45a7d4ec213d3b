"""Defaults, environment variable names and the ``NOT_GIVEN`` sentinel.

Every tunable number of the SDK lives here so that it is documented once.
"""

from __future__ import annotations

import enum
from typing import Final, Literal

import attrs

from ._checks import finite_number
from ._errors import UsageError
from ._public import publish

DEFAULT_SERVER_URL: Final = "https://api.useautumn.com"
DEFAULT_API_VERSION: Final = "2.1"
ENV_SECRET_KEY: Final = "AUTUMN_SECRET_KEY"  # noqa: S105 (a variable name, not a secret)
ENV_SERVER_URL: Final = "AUTUMN_SERVER_URL"

#: Total time one attempt may take (connect, send, wait, read), in seconds.
DEFAULT_TIMEOUT: Final = 10.0
#: Time allowed to open a new connection (TCP and TLS), in seconds.
DEFAULT_CONNECT_TIMEOUT: Final = 5.0

#: Connections kept per client. At least as many as calls allowed in flight, or most
#: requests pay for a new connection (a TLS handshake each against the real API).
DEFAULT_MAX_CONNECTIONS: Final = 100
DEFAULT_KEEPALIVE_TIMEOUT: Final = 30.0

#: A response body larger than this is refused (hostile or broken servers). It counts
#: decompressed bytes: a gzip or deflate body is refused as soon as it inflates past it.
MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024

#: Longest id the SDK sends (customer, feature, entity, event name, balance, idempotency key).
MAX_ID_LENGTH: Final = 255
#: Largest body of one usage event (``track``, and each event of the batcher), as compact
#: UTF-8 JSON. Properties are metadata, not payloads.
MAX_EVENT_BYTES: Final = 64 * 1024

#: Attempts per call by default: the first try and two retries (openai-python's default).
DEFAULT_MAX_ATTEMPTS: Final = 3
DEFAULT_INITIAL_INTERVAL_MS: Final = 500
DEFAULT_MAX_INTERVAL_MS: Final = 8_000
DEFAULT_EXPONENT: Final = 2.0
DEFAULT_MAX_ELAPSED_TIME_MS: Final = 30_000

# -- the usage batcher -------------------------------------------------------------------
#: ``balances.batch_track`` takes at most this many events per request (spec §13).
BATCH_TRACK_LIMIT: Final = 1000
#: Events per ``track``-mode batch by default (``batch_track`` mode: the limit above).
DEFAULT_BATCH_SIZE: Final = 100
#: Seconds the oldest queued event waits before a partial batch leaves.
DEFAULT_FLUSH_INTERVAL: Final = 1.0
#: Requests a batcher keeps in flight at once.
DEFAULT_MAX_CONCURRENCY: Final = 8
#: Events a batcher holds in memory before its overflow policy applies.
DEFAULT_MAX_QUEUE: Final = 100_000
#: Seconds a process holds spooled events it claimed before another may take them over.
DEFAULT_SPOOL_LEASE: Final = 30.0
#: Seconds closing a batcher may spend delivering what is left.
DEFAULT_SHUTDOWN_TIMEOUT: Final = 5.0
#: Longest batcher-level wait between resends, whatever the server asks (seconds).
MAX_PARK_SECONDS: Final = 60.0


class NotGiven(enum.Enum):
    """Type of :data:`NOT_GIVEN`: "use the client's default" for per-call options.

    ``None`` means "off" where an option can be switched off (``retries=None``).
    """

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN: Final = NotGiven.NOT_GIVEN


@attrs.frozen(kw_only=True)
class Timeout:
    """Per-attempt time limits, in seconds.

    ``total`` bounds one attempt, from waiting for a pooled connection to the last byte
    of the body; ``connect`` bounds opening a new connection (TCP and TLS set-up), and
    a request that times out there was never sent. Neither is ever unlimited.
    """

    total: float = DEFAULT_TIMEOUT
    connect: float = DEFAULT_CONNECT_TIMEOUT

    def __attrs_post_init__(self) -> None:
        for name in ("total", "connect"):
            # Never unlimited: an infinite timeout would hang a request thread for good.
            if finite_number(getattr(self, name), f"timeout.{name}") <= 0:
                raise UsageError(
                    f"timeout.{name} must be a positive number of seconds",
                    field=f"timeout.{name}",
                )


def coerce_timeout(value: float | Timeout, *, field: str = "timeout") -> Timeout:
    """Turn a number of seconds or a :class:`Timeout` into a :class:`Timeout`."""
    if isinstance(value, Timeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(
            f"{field} must be a positive number of seconds or a Timeout, got {value!r}",
            field=field,
        )
    if finite_number(value, field) <= 0:
        raise UsageError(f"{field} must be a positive number of seconds", field=field)
    return Timeout(total=float(value), connect=min(float(value), DEFAULT_CONNECT_TIMEOUT))


publish(globals(), ("NotGiven", "Timeout"))
