"""Fixtures shared by the whole suite."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from autumn_async import AsyncAutumn, BackoffStrategy, RetryConfig

from ._aioresponses_compat import compat_aioresponses

FIXTURES = Path(__file__).parent / "fixtures" / "examples"
SECRET = "am_sk_test_0123456789abcdef"
BASE = "https://autumn.test"

#: Retries that never sleep: the rules are exercised, the clock is not.
INSTANT_RETRIES = RetryConfig("backoff", BackoffStrategy(0, 0, 1.0, 60_000), True, max_attempts=5)


def example(name: str) -> Any:
    """One of the spec's example bodies, parsed."""
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def mock_api() -> Iterator[compat_aioresponses]:
    """aioresponses with the aiohttp 3.14 shim."""
    with compat_aioresponses() as mocked:
        yield mocked


@pytest.fixture
async def client() -> AsyncIterator[AsyncAutumn]:
    """A client pointed at a fake host, with instant retries."""
    async with AsyncAutumn(
        secret_key=SECRET, server_url=BASE, retry_config=INSTANT_RETRIES
    ) as autumn:
        yield autumn
