"""Tells us when the aioresponses shim (tests/_aioresponses_compat.py) can go."""

from __future__ import annotations

import aiohttp
import pytest
from aioresponses import aioresponses

from .._aioresponses_compat import NEEDS_STREAM_WRITER, compat_aioresponses


@pytest.mark.xfail(
    NEEDS_STREAM_WRITER,
    strict=True,
    raises=TypeError,
    reason="aioresponses issue #289: ClientResponse needs stream_writer on aiohttp >= 3.14. "
    "When this passes, delete tests/_aioresponses_compat.py and use aioresponses directly.",
)
async def test_aioresponses_still_needs_the_shim() -> None:
    """Plain aioresponses still fails against this aiohttp (xfail until upstream fixes it)."""
    with aioresponses() as mocked:
        mocked.get("http://shim.test/", body="ok")
        async with aiohttp.ClientSession() as session, session.get("http://shim.test/") as resp:
            assert await resp.text() == "ok"


async def test_shim_serves_mocked_responses() -> None:
    """With the shim, mocked responses read normally."""
    with compat_aioresponses() as mocked:
        mocked.get("http://shim.test/", body="ok", status=201)
        async with aiohttp.ClientSession() as session, session.get("http://shim.test/") as resp:
            assert resp.status == 201
            assert await resp.text() == "ok"
