"""One adapter per benchmarked client: open it on a base URL, then ``check`` and ``track``.

Every adapter makes the same exchange: a ``check`` of ``cus_123`` / ``messages`` and a
``track`` of value 1, then reads the answer as the client's users would get it. The
floors (raw aiohttp, raw ``http.client``) send the very bytes the SDK sends (same
headers, same JSON body, a fresh idempotency key on each track) and decode the JSON
answer with the standard library: what hand-written code would do.

This module is imported in the client process only, by ``probe.py``, under whichever
interpreter the client needs (the repo's venv, or a peer's venv): it imports nothing
outside the standard library at module level.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

SECRET_KEY = "am_sk_test_benchmark0000000000000000"
CUSTOMER_ID = "cus_123"
FEATURE_ID = "messages"
API_VERSION = "2.1"
USER_AGENT = "autumn-balances-python/bench"

HEADERS = {
    "Authorization": f"Bearer {SECRET_KEY}",
    "x-api-version": API_VERSION,
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": USER_AGENT,
}
CHECK_PATH = "/v1/balances.check"
TRACK_PATH = "/v1/balances.track"


def check_body() -> bytes:
    return json.dumps({"customer_id": CUSTOMER_ID, "feature_id": FEATURE_ID}).encode()


def track_body() -> bytes:
    body = {
        "customer_id": CUSTOMER_ID,
        "feature_id": FEATURE_ID,
        "value": 1,
        "idempotency_key": str(uuid.uuid4()),
    }
    return json.dumps(body).encode()


def canned_transport(op: str) -> Any:
    """A transport for ``AsyncAutumn(transport=...)`` answering every call with the
    server's 200 body for ``op``, with no I/O: what is left is the SDK's own work."""
    from pathlib import Path

    from autumn_async import Response

    path = Path(__file__).resolve().parent / "bodies" / f"{op}.json"
    body = json.dumps(json.loads(path.read_text()), separators=(",", ":")).encode()
    answer = Response(status=200, headers={"Content-Type": "application/json"}, body=body)

    class CannedTransport:
        async def send(self, request: Any, base_headers: Any) -> Any:
            return answer

        async def aclose(self) -> None:
            """Nothing to release."""

    return CannedTransport()


# --- async clients --------------------------------------------------------------------


class RawAiohttp:
    """The async floor: one ``aiohttp.ClientSession`` with the headers preset."""

    kind = "async"
    modules = ("aiohttp",)

    async def open(self, base: str) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100), headers=HEADERS
        )
        self.check_url, self.track_url = base + CHECK_PATH, base + TRACK_PATH

    async def _post(self, url: str, body: bytes) -> Any:
        async with self.session.post(url, data=body) as resp:
            return json.loads(await resp.read())

    async def check(self) -> Any:
        return await self._post(self.check_url, check_body())

    async def track(self) -> Any:
        return await self._post(self.track_url, track_body())

    async def close(self) -> None:
        await self.session.close()


class OursAsync:
    """``autumn_async.AsyncAutumn`` with its defaults."""

    kind = "async"
    modules = ("autumn_async",)
    package = "autumn-balances"

    def create(self, base: str, **options: Any) -> Any:
        from autumn_async import AsyncAutumn

        return AsyncAutumn(secret_key=SECRET_KEY, server_url=base, **options)

    async def open(self, base: str) -> None:
        self.bind(self.create(base))

    def bind(self, client: Any) -> None:
        self.client = client
        self.balances = client.balances

    async def check(self) -> Any:
        return await self.balances.check(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID)

    async def track(self) -> Any:
        return await self.balances.track(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID, value=1)

    async def close(self) -> None:
        await self.client.aclose()


class AutumnSdkAsync:
    """``autumn_sdk.Autumn`` (Speakeasy, 1.x), its ``*_async`` methods."""

    kind = "async"
    modules = ("autumn_sdk",)
    package = "autumn-sdk"

    def create(self, base: str) -> Any:
        from autumn_sdk import Autumn

        return Autumn(secret_key=SECRET_KEY, server_url=base)

    async def open(self, base: str) -> None:
        self.client = self.create(base)

    async def check(self) -> Any:
        return await self.client.check_async(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID)

    async def track(self) -> Any:
        return await self.client.track_async(
            customer_id=CUSTOMER_ID, feature_id=FEATURE_ID, value=1
        )

    async def close(self) -> None:
        await self.client.__aexit__(None, None, None)


class AutumnPythonAsync:
    """``autumn.AsyncAutumn`` from ``autumn-python`` (Stainless, API 2.0.0)."""

    kind = "async"
    modules = ("autumn",)
    package = "autumn-python"

    def create(self, base: str) -> Any:
        from autumn import AsyncAutumn

        return AsyncAutumn(secret_key=SECRET_KEY, base_url=base + "/v1", max_retries=0)

    async def open(self, base: str) -> None:
        self.client = self.create(base)

    async def check(self) -> Any:
        return await self.client.check(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID)

    async def track(self) -> Any:
        return await self.client.track(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID, value=1)

    async def close(self) -> None:
        await self.client.close()


class AutumnPyAsync:
    """``autumn.Autumn`` (``autumn.aio.AsyncClient``) from ``autumn-py`` (aiohttp, API 1.2.0)."""

    kind = "async"
    modules = ("autumn",)
    package = "autumn-py"

    def create(self, base: str) -> Any:
        from autumn.aio import AsyncClient

        return AsyncClient(token=SECRET_KEY, base_url=base, max_retries=0)

    async def open(self, base: str) -> None:
        self.client = self.create(base)

    async def check(self) -> Any:
        return await self.client.check(CUSTOMER_ID, feature_id=FEATURE_ID)

    async def track(self) -> Any:
        return await self.client.track(CUSTOMER_ID, FEATURE_ID, value=1)

    async def close(self) -> None:
        await self.client.close()


# --- sync clients ---------------------------------------------------------------------


class RawHttpClient:
    """The sync floor: ``http.client`` keep-alive, one connection per thread."""

    kind = "sync"
    modules = ("http.client",)

    def open(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.local = threading.local()

    def _post(self, path: str, body: bytes) -> Any:
        import http.client

        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port)
        conn.request("POST", path, body, HEADERS)
        resp = conn.getresponse()
        return json.loads(resp.read())

    def check(self) -> Any:
        return self._post(CHECK_PATH, check_body())

    def track(self) -> Any:
        return self._post(TRACK_PATH, track_body())

    def close(self) -> None:
        """Connections close with the process."""


class OursSync:
    """``autumn_sync.Autumn`` with its defaults: one client shared by all threads."""

    kind = "sync"
    modules = ("autumn_sync",)
    package = "autumn-balances"

    def create(self, base: str, **options: Any) -> Any:
        from autumn_sync import Autumn

        return Autumn(secret_key=SECRET_KEY, server_url=base, **options)

    def open(self, base: str) -> None:
        self.bind(self.create(base))

    def bind(self, client: Any) -> None:
        self.client = client
        self.balances = client.balances

    def check(self) -> Any:
        return self.balances.check(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID)

    def track(self) -> Any:
        return self.balances.track(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID, value=1)

    def close(self) -> None:
        self.client.close()


class AutumnSdkSync(AutumnSdkAsync):
    """``autumn_sdk.Autumn`` (Speakeasy, 1.x), its blocking methods."""

    kind = "sync"

    def open(self, base: str) -> None:  # type: ignore[override]
        self.client = self.create(base)

    def check(self) -> Any:  # type: ignore[override]
        return self.client.check(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID)

    def track(self) -> Any:  # type: ignore[override]
        return self.client.track(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID, value=1)

    def close(self) -> None:  # type: ignore[override]
        self.client.__exit__(None, None, None)


class AutumnPythonSync(AutumnPythonAsync):
    """``autumn.Autumn`` from ``autumn-python`` (Stainless, httpx)."""

    kind = "sync"

    def create(self, base: str) -> Any:
        from autumn import Autumn

        return Autumn(secret_key=SECRET_KEY, base_url=base + "/v1", max_retries=0)

    def open(self, base: str) -> None:  # type: ignore[override]
        self.client = self.create(base)

    def check(self) -> Any:  # type: ignore[override]
        return self.client.check(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID)

    def track(self) -> Any:  # type: ignore[override]
        return self.client.track(customer_id=CUSTOMER_ID, feature_id=FEATURE_ID, value=1)

    def close(self) -> None:  # type: ignore[override]
        self.client.close()


class AutumnPySync(AutumnPyAsync):
    """``autumn.Client`` from ``autumn-py`` (requests, API 1.2.0)."""

    kind = "sync"

    def create(self, base: str) -> Any:
        from autumn import Client

        return Client(token=SECRET_KEY, base_url=base, max_retries=0)

    def open(self, base: str) -> None:  # type: ignore[override]
        self.client = self.create(base)

    def check(self) -> Any:  # type: ignore[override]
        return self.client.check(CUSTOMER_ID, feature_id=FEATURE_ID)

    def track(self) -> Any:  # type: ignore[override]
        return self.client.track(CUSTOMER_ID, FEATURE_ID, value=1)

    def close(self) -> None:  # type: ignore[override]
        self.client.http.close()


ADAPTERS: dict[str, type[Any]] = {
    "aiohttp": RawAiohttp,
    "http.client": RawHttpClient,
    "ours-async": OursAsync,
    "ours-sync": OursSync,
    "autumn-sdk-async": AutumnSdkAsync,
    "autumn-sdk-sync": AutumnSdkSync,
    "autumn-python-async": AutumnPythonAsync,
    "autumn-python-sync": AutumnPythonSync,
    "autumn-py-async": AutumnPyAsync,
    "autumn-py-sync": AutumnPySync,
}
