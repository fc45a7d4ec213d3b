"""The SDK's one error tree, and the pure function that maps a response to it.

Users catch by intent: :class:`AutumnError` for everything, :class:`AutumnDefaultError`
(the API reference's name) for any HTTP error, a status subclass for one case,
:class:`APIConnectionError` when no answer came back, :class:`UsageError` for a mistake
in the call itself. No error ever holds the secret key or the request headers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any

from ._public import publish

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "AutumnDefaultError",
    "AutumnError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "RedirectError",
    "ResponseValidationError",
    "UsageError",
    "redact_secret",
]

#: Longest raw body kept on an error (the rest is cut so logs and pickles stay small).
_MAX_BODY_CHARS = 10_000
#: A run of this many characters of the secret key, found anywhere in what a server sent,
#: is redacted: a server that echoes the key whole, cut or masked badly must not put it
#: into an error, a log or a pickle.
_MIN_SECRET_FRAGMENT = 8
REDACTED = "[redacted]"


def redact_secret(text: str, secret: str | None) -> str:
    """``text`` with the secret key, and every run of 8 or more of its characters, replaced
    by ``[redacted]``."""
    if not secret or not text:
        return text
    n = _MIN_SECRET_FRAGMENT
    if len(secret) < n:
        return text.replace(secret, REDACTED)
    spans: list[tuple[int, int]] = []
    for offset in range(len(secret) - n + 1):
        gram = secret[offset : offset + n]
        start = text.find(gram)
        while start != -1:
            # Grow the match both ways along the key, so one run is redacted once.
            lo, hi, k_lo, k_hi = start, start + n, offset, offset + n
            while lo > 0 and k_lo > 0 and text[lo - 1] == secret[k_lo - 1]:
                lo, k_lo = lo - 1, k_lo - 1
            while hi < len(text) and k_hi < len(secret) and text[hi] == secret[k_hi]:
                hi, k_hi = hi + 1, k_hi + 1
            spans.append((lo, hi))
            start = text.find(gram, start + 1)
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    cursor = 0
    for lo, hi in spans:
        if hi <= cursor:
            continue
        if lo > cursor:
            out.append(text[cursor:lo])
            out.append(REDACTED)
        elif not out or out[-1] != REDACTED:
            out.append(REDACTED)
        cursor = max(cursor, hi)
    out.append(text[cursor:])
    return "".join(out)


def _redact_headers(headers: Mapping[str, str], secret: str | None) -> dict[str, str]:
    if not secret:
        return dict(headers)
    return {redact_secret(k, secret): redact_secret(v, secret) for k, v in headers.items()}


def _rebuild(cls: type[AutumnError], args: tuple[Any, ...], state: dict[str, Any]) -> AutumnError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class AutumnError(Exception):
    """Root of every error the SDK raises.

    ``idempotency_key`` is the key a state-changing call was sent under (yours or the
    SDK's), so that resending under it can never apply the call twice; ``None`` for a
    read-only call. ``maybe_applied`` is ``True`` when the call may have been applied
    although it failed (its outcome is unknown).
    """

    message: str
    idempotency_key: str | None = None
    maybe_applied: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive Exception's default pickling.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def __str__(self) -> str:
        return self.message


class UsageError(AutumnError, ValueError):
    """The call itself is wrong (bad argument, closed client, ...); nothing was sent."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AutumnDefaultError(AutumnError):
    """Autumn answered with an HTTP error status.

    ``code`` and ``env`` come from the JSON error body ``{message, code, env}``; a plain
    text body (the 429 of the rate limiter) leaves ``code`` as ``None`` and becomes the
    message. ``body`` is the raw text, cut at 10,000 characters. ``retry_after`` is the
    server's ``Retry-After`` in seconds, if it sent one (on 429, and on the 503s Autumn
    answers while a queue is unavailable).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        env: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.env = env
        self.headers: dict[str, str] = dict(headers or {})
        if retry_after is None and self.headers:
            retry_after = parse_retry_after(_header(self.headers, "retry-after"), now=time.time())
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"Status {self.status_code}{code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class BadRequestError(AutumnDefaultError):
    """400: the request was refused as invalid (``invalid_inputs``, ``invalid_request`` ...)."""


class AuthenticationError(AutumnDefaultError):
    """401: the secret key is missing, malformed or unknown."""


class PermissionDeniedError(AutumnDefaultError):
    """403: the key lacks the scope for this route."""


class NotFoundError(AutumnDefaultError):
    """404: unknown customer, entity, feature or event name."""


class ConflictError(AutumnDefaultError):
    """409: a duplicate idempotency key, ``balance_id`` or boolean grant."""


class OutcomeUnknownError(ConflictError):
    """A retry of a call whose earlier attempt reached Autumn was refused as a duplicate.

    Either the duplicate could not be confirmed within the retry budget (the earlier
    attempt may still have been running, and may yet fail), or it was confirmed for
    ``balances.check(send_event=True)``, whose answer Autumn never replays. The SDK does
    not guess and never resends under a new key: ``idempotency_key`` carries the key, and
    ``maybe_applied`` is ``True``.
    """


class RateLimitError(AutumnDefaultError):
    """429: too many requests. ``retry_after`` is the server's wait in seconds, if given.

    ``limit``, ``remaining`` and ``reset`` (seconds until the window resets) come from
    the rate limiter's ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` headers and
    ``policy`` from ``RateLimit-Policy`` (such as ``"10000;w=1"``); each is ``None``
    when the header is missing or unreadable.
    """

    @property
    def limit(self) -> int | None:
        """``RateLimit-Limit``: requests allowed per window."""
        return _int_header(self.headers, "ratelimit-limit")

    @property
    def remaining(self) -> int | None:
        """``RateLimit-Remaining``: requests left in the current window."""
        return _int_header(self.headers, "ratelimit-remaining")

    @property
    def reset(self) -> float | None:
        """``RateLimit-Reset``: seconds until the window resets."""
        value = _header(self.headers, "ratelimit-reset")
        return parse_retry_after(value, now=time.time()) if value is not None else None

    @property
    def policy(self) -> str | None:
        """``RateLimit-Policy``: the limit and its window, as the server states them."""
        return _header(self.headers, "ratelimit-policy")


class InternalServerError(AutumnDefaultError):
    """5xx: Autumn failed. Retried only when a repeat cannot apply the call twice."""


class RedirectError(AutumnDefaultError):
    """3xx: the server answered with a redirect, which the SDK never follows.

    Following one would turn a ``POST`` into a ``GET`` elsewhere (301/302/303) or resend
    the body, and the key, to another host (307/308). ``location`` is where it pointed
    (credentials removed), or ``None``; a redirect usually means a wrong ``server_url``
    (``http://`` for ``https://``, a missing path). Never retried.
    """

    location: str | None = None


class APIConnectionError(AutumnError):
    """No HTTP answer was received.

    ``maybe_applied`` tells whether the request may have reached Autumn (a reset after
    it was written, a read timeout) or certainly did not (refused connection, DNS,
    connect timeout). Only in the second case is a blind resend always safe.
    """

    def __init__(self, message: str, *, maybe_applied: bool) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied


class APITimeoutError(APIConnectionError):
    """The attempt ran out of time (connect or total)."""


class ResponseValidationError(AutumnError):
    """A success response whose body does not fit the model; ``body`` keeps the raw text."""

    def __init__(self, message: str, *, status_code: int, body: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


_STATUS_CLASSES: dict[int, type[AutumnDefaultError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    ``now`` is the current Unix time. Unparseable, negative or non-finite values give
    ``None``; a date in the past gives ``0``.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import email.utils  # noqa: PLC0415 (dates are rare; the module costs ms at import)

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def error_from_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    secret: str | None = None,
) -> AutumnDefaultError:
    """Build the error for an HTTP error response; JSON and plain-text bodies both parse.

    ``secret`` (the client's own key) is redacted from everything the server sent before
    it is kept: the body, the message, the code and the headers.
    """
    raw = body.decode("utf-8", errors="replace")
    # Only what is kept is redacted (a body may be megabytes; the kept part is 10,000 chars).
    text = redact_secret(raw[:_MAX_BODY_CHARS], secret)
    headers = _redact_headers(headers, secret)
    code: str | None = None
    env: str | None = None
    message = ""
    try:
        parsed = json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # junk, or nesting deep enough to be hostile
        parsed = None
    if isinstance(parsed, dict):
        # Redacted once parsed: JSON escapes (\u0061...) hide the key from the raw text.
        raw_message = parsed.get("message")
        if isinstance(raw_message, str):
            message = redact_secret(raw_message, secret)
        raw_code = parsed.get("code")
        code = redact_secret(raw_code, secret) if isinstance(raw_code, str) else None
        raw_env = parsed.get("env")
        env = redact_secret(raw_env, secret) if isinstance(raw_env, str) else None
    if not message:
        message = (
            redact_secret(raw.strip()[:500], secret) or f"HTTP {status_code} with an empty body"
        )
    if 300 <= status_code < 400:
        return _redirect(status_code, headers, text)
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else AutumnDefaultError
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "code": code,
        "env": env,
        "headers": headers,
        "body": text,
        "retry_after": parse_retry_after(_header(headers, "retry-after"), now=now),
    }
    return cls(message, **kwargs)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = _header(headers, name)
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


def _redirect(status_code: int, headers: Mapping[str, str], text: str) -> RedirectError:
    location = _header(headers, "location")
    if location is not None:
        location = _without_userinfo(location.strip())
        headers = {k: location if k.lower() == "location" else v for k, v in headers.items()}
    where = f"to {location}" if location else "without a Location"
    error = RedirectError(
        f"Autumn answered {status_code}, a redirect {where}; the SDK never follows "
        "redirects (is server_url right? https://, and no path?)",
        status_code=status_code,
        headers=headers,
        body=text,
    )
    error.location = location
    return error


def _without_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "[credentials removed]@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{tail}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, item in headers.items():
        if key.lower() == name:
            return item
    return None


publish(globals(), tuple(__all__))
