"""The secret key never leaks: not in reprs, error texts, pickles or DEBUG logs."""

from __future__ import annotations

import logging
import pickle

import aiohttp
import pytest

from autumn_async import AsyncAutumn, AutumnError

from .._aioresponses_compat import compat_aioresponses
from ..conftest import BASE, INSTANT_RETRIES, SECRET, example

CHECK = f"{BASE}/v1/balances.check"


async def test_key_absent_from_repr_errors_and_debug_logs(
    mock_api: compat_aioresponses, caplog: pytest.LogCaptureFixture
) -> None:
    """Across successes, retries and failures, nothing shows the key."""
    caplog.set_level(logging.DEBUG)
    mock_api.post(CHECK, status=503, body="down")
    mock_api.post(CHECK, payload=example("balances_check_response_metered_allowed.json"))
    mock_api.post(CHECK, status=401, payload=example("error_no_secret_key_401.json"))
    mock_api.post(CHECK, exception=aiohttp.ServerDisconnectedError(), repeat=True)
    errors: list[AutumnError] = []
    async with AsyncAutumn(
        secret_key=SECRET, server_url=BASE, retry_config=INSTANT_RETRIES
    ) as autumn:
        texts = [repr(autumn), str(autumn)]
        await autumn.balances.check(customer_id="c", feature_id="f")
        for _ in range(2):
            try:
                await autumn.balances.check(customer_id="c", feature_id="f")
            except AutumnError as exc:
                errors.append(exc)
    assert len(errors) == 2
    for exc in errors:
        texts += [str(exc), repr(exc), repr(exc.__dict__), pickle.dumps(exc).decode("latin-1")]
        cause = exc.__cause__
        while cause is not None:
            texts.append(repr(cause))
            cause = cause.__cause__
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    assert any("attempt=" in record.getMessage() for record in caplog.records)
    for text in texts:
        assert SECRET not in text
        assert SECRET[6:] not in text
