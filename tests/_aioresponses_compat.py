"""Compatibility shim: aioresponses 0.7.9 against aiohttp >= 3.14.

aiohttp 3.14 made ``stream_writer`` a required argument of ``ClientResponse``, which
aioresponses does not pass (upstream aioresponses issue #289). This subclass supplies a
stand-in writer when none is given. Older aiohttp (down to the declared floor, which the
floors job installs) has no such argument, so the shim passes nothing extra there.
``test_aioresponses_still_needs_the_shim`` fails once upstream is fixed, telling us to
delete this module.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aioresponses import aioresponses


def _aiohttp_version() -> tuple[int, int]:
    major, minor = aiohttp.__version__.split(".")[:2]
    return int(major), int(minor)


#: Whether this aiohttp's ``ClientResponse`` requires ``stream_writer`` (3.14 and later).
NEEDS_STREAM_WRITER = _aiohttp_version() >= (3, 14)


class _StandInStreamWriter:
    """All ``ClientResponse`` reads from its writer: how many bytes went out."""

    output_size = 0


class CompatClientResponse(aiohttp.ClientResponse):
    """A ``ClientResponse`` that tolerates a missing ``stream_writer``."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        if NEEDS_STREAM_WRITER and kwargs.get("stream_writer") is None:
            kwargs["stream_writer"] = _StandInStreamWriter()
        super().__init__(method, url, **kwargs)


class compat_aioresponses(aioresponses):
    """``aioresponses`` whose mocks default to :class:`CompatClientResponse`."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", CompatClientResponse)
        super().add(*args, **kwargs)
