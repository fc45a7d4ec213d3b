"""Nothing holding the key pickles or copies; errors still pickle, redacted.

Celery pickles task arguments and multiprocessing's ``spawn`` pickles a ``Process``'s: a
client passed by accident would put its secret key, in clear text, on the broker or the
pipe. Like httpx's and aiohttp's clients, every SDK object that holds the key or a live
connection refuses with a ``TypeError`` saying what to do instead, under every pickle
protocol and multiprocessing's own pickler; ``copy.copy``/``copy.deepcopy`` of a client
are refused too (a copy would share or duplicate its pools, loop thread and batchers).
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import pickle
from collections.abc import AsyncIterator, Iterator
from multiprocessing.reduction import ForkingPickler

import pytest

from autumn_async import AsyncAutumn, AutumnDefaultError, AutumnError
from autumn_async._options import SecretKey
from autumn_sync import Autumn

from ._servers import RawRequest, RawServer, respond
from .test_secret_leaks import KEY, assert_clean, error_texts

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
#: A proxy whose password must not show either (ClientOptions keeps it).
PROXY = "http://user:pr0xyPassw0rd@127.0.0.1:3128"
SERVER = "http://127.0.0.1:9"


@pytest.fixture
async def async_objects() -> AsyncIterator[dict[str, object]]:
    """An AsyncAutumn (with a proxy password), its resources, batcher, transport and values."""
    autumn = AsyncAutumn(secret_key=KEY, server_url=SERVER, proxy=PROXY)
    batcher = autumn.batcher()
    try:
        yield {
            "AsyncAutumn": autumn,
            "AsyncBalances": autumn.balances,
            "AsyncCustomers": autumn.customers,
            "AsyncEntities": autumn.entities,
            "AsyncUsageBatcher": batcher,
            "Pipeline": autumn.pipeline,
            "AiohttpTransport": autumn.pipeline.transport,
            "SecretKey": SecretKey(KEY),
            "ClientOptions": autumn._options,
        }
    finally:
        await autumn.aclose()


@pytest.fixture
def sync_objects() -> Iterator[dict[str, object]]:
    """An Autumn, its resources and batcher."""
    autumn = Autumn(secret_key=KEY, server_url=SERVER)
    batcher = autumn.batcher()
    try:
        yield {
            "Autumn": autumn,
            "Balances": autumn.balances,
            "Customers": autumn.customers,
            "Entities": autumn.entities,
            "UsageBatcher": batcher,
        }
    finally:
        autumn.close()


def assert_refused_to_pickle(name: str, obj: object) -> None:
    for protocol in PROTOCOLS:
        with pytest.raises(TypeError) as info:
            pickle.dumps(obj, protocol=protocol)
        text = str(info.value)
        assert text.startswith(f"cannot pickle {name}:"), text
        assert "AUTUMN_SECRET_KEY" in text
        assert "in each process" in text
        assert_clean(text, repr(info.value))
        assert "pr0xyPassw0rd" not in text
    with pytest.raises(TypeError, match=f"cannot pickle {name}:"):
        ForkingPickler.dumps(obj)
    # Inside a task's arguments: refused before any of the key reaches the stream.
    stream = io.BytesIO()
    with pytest.raises(TypeError):
        pickle.dump({"customer_id": "c1", "client": obj}, stream)
    assert_clean(stream.getvalue())


def test_async_objects_refuse_pickling(async_objects: dict[str, object]) -> None:
    """The async client, its resources, batcher, pipeline, key and options never pickle."""
    for name, obj in async_objects.items():
        assert_refused_to_pickle(name, obj)


def test_sync_objects_refuse_pickling(sync_objects: dict[str, object]) -> None:
    """The sync client, its resources and batcher never pickle."""
    for name, obj in sync_objects.items():
        assert_refused_to_pickle(name, obj)


def test_clients_refuse_copying(
    async_objects: dict[str, object], sync_objects: dict[str, object]
) -> None:
    """copy.copy and copy.deepcopy of live objects raise a TypeError saying why."""
    values = {"SecretKey", "ClientOptions"}
    for name, obj in {**async_objects, **sync_objects}.items():
        if name in values:
            continue
        for function in (copy.copy, copy.deepcopy):
            with pytest.raises(TypeError) as info:
                function(obj)
            assert f"copy {name}:" in str(info.value)
            assert "create another client" in str(info.value)
            assert_clean(str(info.value))


def test_immutable_values_copy_as_themselves(async_objects: dict[str, object]) -> None:
    """SecretKey and ClientOptions are immutable: a copy is the same object."""
    for name in ("SecretKey", "ClientOptions"):
        value = async_objects[name]
        assert copy.copy(value) is value
        assert copy.deepcopy(value) is value


async def _echo_then_fail(request: RawRequest, writer: asyncio.StreamWriter, index: int) -> None:
    key = request.headers["authorization"].removeprefix("Bearer ")
    status = 401 if index == 0 else 500
    body = json.dumps({"message": f"no luck for {key}", "code": "x"}).encode()
    await respond(writer, status, body, headers={"X-Echo": key})


async def test_errors_pickle_under_every_protocol_without_the_key() -> None:
    """A 401 and a maybe-applied 500, both echoing the key: every protocol round-trips them."""
    errors: list[AutumnError] = []
    async with (
        RawServer(_echo_then_fail) as server,
        AsyncAutumn(secret_key=KEY, server_url=server.url, retry_config=None) as autumn,
    ):
        for _ in range(2):
            try:
                await autumn.balances.track(customer_id="c", feature_id="f", value=1)
            except AutumnError as exc:
                errors.append(exc)
    unauthorized, unknown = errors
    assert isinstance(unauthorized, AutumnDefaultError)
    assert unauthorized.status_code == 401
    assert unknown.maybe_applied
    assert unknown.idempotency_key
    for error in errors:
        assert_clean(*error_texts(error))
        for data in [pickle.dumps(error, protocol=p) for p in PROTOCOLS] + [
            bytes(ForkingPickler.dumps(error))
        ]:
            assert_clean(data)
            clone = pickle.loads(data)
            assert type(clone) is type(error)
            assert clone.__dict__ == error.__dict__
            assert str(clone) == str(error)
