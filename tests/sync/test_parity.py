"""The sync facade mirrors the async client: same options, methods, signatures, docstrings."""

from __future__ import annotations

import inspect

import pytest

from autumn_async import AsyncAutumn, AsyncBalances, AsyncCustomers, AsyncEntities
from autumn_sync import Autumn, Balances, Customers, Entities

#: The one async-only option: an aiohttp session belongs to a loop the sync client never runs.
ASYNC_ONLY_OPTIONS = {"session"}
RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}


def public_methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in vars(cls).items()
        if callable(member) and (not name.startswith("_") or name in RENAMED)
    }


def test_client_options_match() -> None:
    """Autumn takes AsyncAutumn's options, with the same defaults, less `session`."""
    async_params = inspect.signature(AsyncAutumn.__init__).parameters
    sync_params = inspect.signature(Autumn.__init__).parameters
    expected = [p for name, p in async_params.items() if name not in ASYNC_ONLY_OPTIONS]
    assert list(sync_params.values()) == expected


@pytest.mark.parametrize(
    ("async_cls", "sync_cls"),
    [
        (AsyncAutumn, Autumn),
        (AsyncBalances, Balances),
        (AsyncCustomers, Customers),
        (AsyncEntities, Entities),
    ],
)
def test_every_async_method_has_a_sync_twin(async_cls: type, sync_cls: type) -> None:
    """Each public async method has a sync method with the same signature and docstring."""
    for name, method in public_methods(async_cls).items():
        twin_name = RENAMED.get(name, name)
        twin = getattr(sync_cls, twin_name, None)
        assert twin is not None, f"{sync_cls.__name__}.{twin_name} is missing"
        if name.startswith("__"):
            continue
        # Coroutines become plain calls; factories (batcher) stay factories.
        assert not inspect.iscoroutinefunction(twin), twin_name
        a_sig = inspect.signature(method)
        s_sig = inspect.signature(twin)
        assert list(s_sig.parameters.values()) == list(a_sig.parameters.values()), name
        # The sync twin returns the sync twin of the async result type (UsageBatcher ...).
        assert s_sig.return_annotation == a_sig.return_annotation.replace("Async", ""), name
        assert twin.__doc__ == method.__doc__, name


@pytest.mark.parametrize("resource", ["balances", "customers", "entities"])
def test_every_resource_is_on_both_clients(resource: str) -> None:
    """Each resource of AsyncAutumn is on Autumn too, wrapping the async client's own."""
    with Autumn(secret_key="am_sk_test_parity", server_url="http://127.0.0.1:9") as autumn:
        sync_resource = getattr(autumn, resource)
        assert sync_resource._inner is getattr(autumn.async_client, resource)
