"""The sync facade mirrors the async one, pair by pair: methods, signatures, docstrings.

Each sync delegate is written out with a docstring of its own (documentation tools cannot
see one copied at run time), so the test checks that it exists and names every parameter.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from autumn_async import (
    AsyncAutumn,
    AsyncBalances,
    AsyncCustomers,
    AsyncEntities,
    AsyncUsageBatcher,
)
from autumn_sync import Autumn, Balances, Customers, Entities, UsageBatcher

#: The one async-only option: an aiohttp session belongs to a loop the sync client never runs.
ASYNC_ONLY_OPTIONS = {"session"}
RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}
SYNC_DUNDERS = {"__enter__", "__exit__"}
#: Async members with no sync twin, and why.
ASYNC_ONLY = {
    "pipeline",  # the internal request seam of the async client; the sync one has none
}
PAIRS = [
    (AsyncAutumn, Autumn),
    (AsyncBalances, Balances),
    (AsyncCustomers, Customers),
    (AsyncEntities, Entities),
    (AsyncUsageBatcher, UsageBatcher),
]
#: Pairs whose sync docstrings must name every parameter (the batcher's are its own).
DOCUMENTED = {Autumn, Balances}


def public_members(cls: type) -> dict[str, Any]:
    """Public methods and properties defined on ``cls`` or its SDK base classes."""
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):  # object last, overridden by subclasses
        for name, member in vars(klass).items():
            public = not name.startswith("_") or name in RENAMED or name in SYNC_DUNDERS
            if public and (callable(member) or isinstance(member, property)):
                members[name] = member
    return {name: m for name, m in members.items() if name not in ASYNC_ONLY}


def test_client_options_match() -> None:
    """Autumn takes AsyncAutumn's options, with the same defaults, less `session`."""
    async_params = inspect.signature(AsyncAutumn.__init__).parameters
    sync_params = inspect.signature(Autumn.__init__).parameters
    expected = [p for name, p in async_params.items() if name not in ASYNC_ONLY_OPTIONS]
    assert list(sync_params.values()) == expected


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS)
def test_every_async_member_has_a_sync_twin(async_cls: type, sync_cls: type) -> None:
    """Each public async method or property has a sync twin with the same signature."""
    sync_members = public_members(sync_cls)
    for name, member in public_members(async_cls).items():
        twin_name = RENAMED.get(name, name)
        assert twin_name in sync_members, f"{sync_cls.__name__}.{twin_name} is missing"
        twin = sync_members[twin_name]
        if isinstance(member, property):
            assert isinstance(twin, property), twin_name
            continue
        if name.startswith("__"):
            continue
        # Coroutines become plain calls; factories (batcher) stay factories.
        assert not inspect.iscoroutinefunction(twin), twin_name
        a_sig = inspect.signature(member)
        s_sig = inspect.signature(twin)
        assert list(s_sig.parameters.values()) == list(a_sig.parameters.values()), name
        # The sync twin returns the sync twin of the async result type (UsageBatcher ...).
        assert s_sig.return_annotation == a_sig.return_annotation.replace("Async", ""), name


@pytest.mark.parametrize("resource", ["balances", "customers", "entities"])
def test_every_resource_is_on_both_clients(resource: str) -> None:
    """Each resource of AsyncAutumn is on Autumn too, wrapping the async client's own."""
    with Autumn(secret_key="am_sk_test_parity", server_url="http://127.0.0.1:9") as autumn:
        sync_resource = getattr(autumn, resource)
        assert sync_resource._inner is getattr(autumn.async_client, resource)


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS)
def test_sync_delegates_have_their_own_docstrings(async_cls: type, sync_cls: type) -> None:
    """Every sync method is documented in its own source, naming each of its parameters."""
    assert sync_cls.__doc__
    for name, twin in public_members(sync_cls).items():
        if name.startswith("__") or isinstance(twin, property):
            continue
        doc = inspect.getdoc(twin)
        assert doc, f"{sync_cls.__name__}.{name} has no docstring"
        source = inspect.getsource(twin)
        assert ".__doc__" not in source, f"{sync_cls.__name__}.{name} copies a docstring"
        if sync_cls in DOCUMENTED:
            for param in list(inspect.signature(twin).parameters)[1:]:
                assert f"{param}:" in doc or f"``{param}``" in doc, (name, param)


def test_no_docstring_is_assigned_at_run_time() -> None:
    """The sync package never copies docstrings (tools reading the source would miss them)."""
    import autumn_sync._client

    source = inspect.getsource(autumn_sync._client)
    assert ".__doc__ =" not in source
