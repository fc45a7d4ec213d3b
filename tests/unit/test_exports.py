"""Public means listed in __all__: every name resolves, and both packages agree."""

from __future__ import annotations

import inspect

import pytest

import autumn_async
import autumn_async.models
import autumn_sync


def test_async_all_resolves_and_is_complete() -> None:
    """Every name in autumn_async.__all__ exists, and every public class of models is exported."""
    for name in autumn_async.__all__:
        assert getattr(autumn_async, name) is not None, name
    for name in autumn_async.models.__all__:
        obj = getattr(autumn_async.models, name)
        if inspect.isclass(obj) and obj.__name__.startswith("Balances"):
            assert name in autumn_async.__all__, name


def test_sync_all_mirrors_async() -> None:
    """autumn_sync exports every non-async name of autumn_async, plus its own clients."""
    expected = {n for n in autumn_async.__all__ if not n.startswith("Async")}
    own = {"Autumn", "Balances", "Customers", "Entities", "UsageBatcher"}
    assert set(autumn_sync.__all__) == expected | own


def test_dir_lists_public_names() -> None:
    """dir() of each package shows its public surface (lazy names included)."""
    assert "AsyncAutumn" in dir(autumn_async)
    assert "Autumn" in dir(autumn_sync)


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A misspelt name fails like any module attribute."""
    for module in (autumn_async, autumn_sync):
        with pytest.raises(AttributeError, match="NoSuchThing"):
            module.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
