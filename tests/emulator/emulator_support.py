"""Helpers for the emulator tests: a fake clock and a tiny HTTP client over aiohttp."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

KEY = "am_sk_test_emulator"
T0 = 1_773_000_000_000  # 2026-03-08, Unix ms


class FakeClock:
    """A settable millisecond clock."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class Reply:
    """A response read in full."""

    status: int
    text: str
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.text)


class Api:
    """Plain aiohttp calls against the emulator, with the test key and version by default."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        auth: bool = True,
    ) -> Reply:
        sent = {"x-api-version": "2.1"}
        if auth:
            sent["Authorization"] = f"Bearer {KEY}"
        sent.update(headers or {})
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.session.post(self.base + path, data=data, headers=sent) as response:
            return Reply(response.status, await response.text(), dict(response.headers))

    async def get(self, path: str) -> Reply:
        async with self.session.get(self.base + path) as response:
            return Reply(response.status, await response.text(), dict(response.headers))

    async def track(self, *, headers: dict[str, str] | None = None, **body: Any) -> Reply:
        return await self.post("/v1/balances.track", {"customer_id": "c1", **body}, headers=headers)

    async def check(self, *, headers: dict[str, str] | None = None, **body: Any) -> Reply:
        return await self.post("/v1/balances.check", {"customer_id": "c1", **body}, headers=headers)

    async def create(self, *, headers: dict[str, str] | None = None, **body: Any) -> Reply:
        return await self.post(
            "/v1/balances.create", {"customer_id": "c1", **body}, headers=headers
        )

    async def update(self, *, headers: dict[str, str] | None = None, **body: Any) -> Reply:
        return await self.post(
            "/v1/balances.update", {"customer_id": "c1", **body}, headers=headers
        )


async def grant(api: Api, feature_id: str = "messages", amount: float = 100, **extra: Any) -> None:
    """Create a standalone grant for c1 and assert it succeeded."""
    reply = await api.create(feature_id=feature_id, granted_balance=amount, **extra)
    assert reply.status == 200, reply.text
