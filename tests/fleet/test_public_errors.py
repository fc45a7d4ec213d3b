"""Review: README "Running a fleet" says that when Redis cannot be reached "`track()` raises
`SpoolUnavailableError`", and a full Redis is reported as `SpoolFullError("redis_oom")`.
A web process must be able to catch them, but neither is exported by `autumn_async` or
`autumn_sync` (only `autumn_async._fleet._redis_spool` / `autumn_async._batcher._spool`
have them), and `SpoolUnavailableError` is not a `SpoolError`, the class the README gives
for a spool that cannot take an event.
"""

from __future__ import annotations

import types

import pytest

import autumn_async
import autumn_sync


@pytest.mark.parametrize("package", [autumn_async, autumn_sync], ids=lambda p: p.__name__)
@pytest.mark.parametrize("name", ["SpoolUnavailableError", "SpoolFullError"])
def test_spool_errors_are_public(package: types.ModuleType, name: str) -> None:
    assert name in package.__all__
    assert issubclass(getattr(package, name), autumn_async.AutumnError)


def test_spool_unavailable_is_a_spool_error() -> None:
    assert issubclass(autumn_async.SpoolUnavailableError, autumn_async.SpoolError)
    assert autumn_sync.SpoolUnavailableError is autumn_async.SpoolUnavailableError
    assert autumn_async.SpoolFullError.__module__ == "autumn_async"
    assert autumn_async.SpoolUnavailableError.__module__ == "autumn_async"
