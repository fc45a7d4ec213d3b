"""The error tree: status mapping, body parsing, Retry-After, pickling."""

from __future__ import annotations

import calendar
import pickle

import pytest

from autumn_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    AutumnDefaultError,
    AutumnError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    UsageError,
)
from autumn_async._errors import error_from_response, parse_retry_after

from ..conftest import FIXTURES

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (418, AutumnDefaultError),
    ],
)
def test_status_maps_to_its_class(status: int, cls: type[AutumnDefaultError]) -> None:
    """Each HTTP error status becomes its own subclass of AutumnDefaultError."""
    err = error_from_response(status, {}, b'{"message": "m", "code": "c", "env": "live"}', now=NOW)
    assert type(err) is cls
    assert isinstance(err, AutumnDefaultError)
    assert (err.status_code, err.code, err.message, err.env) == (status, "c", "m", "live")


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in FIXTURES.glob("error_*.json")),
)
def test_spec_error_bodies_parse(name: str) -> None:
    """Every JSON error body of the spec yields its code and message."""
    raw = (FIXTURES / name).read_bytes()
    status = int(name.rsplit("_", 1)[1].split(".", maxsplit=1)[0])
    err = error_from_response(status, {"Content-Type": "application/json"}, raw, now=NOW)
    assert err.code and err.message
    assert err.body == raw.decode()


def test_plain_text_429_parses_with_retry_after() -> None:
    """The rate limiter's text/plain 429 becomes a RateLimitError carrying Retry-After."""
    raw = (FIXTURES / "error_rate_limited_429_body.txt").read_bytes()
    err = error_from_response(429, {"Retry-After": "7", "Content-Type": "text/plain"}, raw, now=NOW)
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 7.0
    assert err.code is None
    assert "Too many requests" in err.message


def test_html_error_page_keeps_a_short_message() -> None:
    """A non-JSON body (an HTML page from a proxy) becomes the message, cut short."""
    page = b"<html>" + b"x" * 5000 + b"</html>"
    err = error_from_response(502, {}, page, now=NOW)
    assert isinstance(err, InternalServerError)
    assert err.code is None
    assert len(err.message) <= 500


def test_empty_error_body_has_a_message() -> None:
    """An empty error body still gives a readable message."""
    err = error_from_response(500, {}, b"", now=NOW)
    assert err.message == "HTTP 500 with an empty body"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    """Retry-After is delta-seconds; junk and negative values are ignored."""
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_http_date() -> None:
    """An HTTP-date Retry-After counts from now; a past date means no wait."""
    date = "Fri, 15 Jan 2027 08:00:10 GMT"
    at = calendar.timegm((2027, 1, 15, 8, 0, 0))
    assert parse_retry_after(date, now=at) == pytest.approx(10.0)
    assert parse_retry_after(date, now=at + 100) == 0.0


@pytest.mark.parametrize(
    "err",
    [
        AutumnError("root"),
        UsageError("bad", field="customer_id"),
        RateLimitError("slow", status_code=429, retry_after=2.0, headers={"Retry-After": "2"}),
        NotFoundError("nf", status_code=404, code="customer_not_found", env="live", body="{}"),
        OutcomeUnknownError("?", status_code=409, code="duplicate_idempotency_key"),
        APIConnectionError("down", maybe_applied=False),
        APITimeoutError("slow", maybe_applied=True),
        ResponseValidationError("shape", status_code=200, body="{}"),
    ],
)
def test_errors_pickle(err: AutumnError) -> None:
    """Every error survives pickling with its fields (for multiprocessing and Celery)."""
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert clone.__dict__ == err.__dict__
    assert str(clone) == str(err)


def test_usage_error_is_a_value_error() -> None:
    """UsageError can be caught as ValueError, as programmer mistakes usually are."""
    assert issubclass(UsageError, ValueError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(OutcomeUnknownError, ConflictError)


def test_retry_after_is_read_for_every_status() -> None:
    """A 503's Retry-After, as seconds or as an HTTP date, lands on the error like a 429's."""
    at = calendar.timegm((2027, 1, 15, 8, 0, 0))
    seconds = error_from_response(503, {"Retry-After": "1"}, b"{}", now=at)
    dated = error_from_response(
        503, {"retry-after": "Fri, 15 Jan 2027 08:00:04 GMT"}, b"{}", now=at
    )
    assert seconds.retry_after == 1.0
    assert dated.retry_after == pytest.approx(4.0)
    assert error_from_response(500, {}, b"{}", now=at).retry_after is None
