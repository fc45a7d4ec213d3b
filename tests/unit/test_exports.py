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


def test_public_classes_name_the_package_users_import_from() -> None:
    """Classes from private modules read autumn_async.X in reprs, tracebacks and pickles."""
    for name in autumn_async.__all__:
        obj = getattr(autumn_async, name)
        if not inspect.isclass(obj):
            continue
        expected = "autumn_async.models" if name in autumn_async.models.__all__ else "autumn_async"
        assert obj.__module__ == expected, name
    for name in ("Autumn", "Balances", "UsageBatcher"):
        assert getattr(autumn_sync, name).__module__ == "autumn_sync", name


def test_models_exports_only_models_and_all_of_them_reach_the_package() -> None:
    """models.__all__ lists the typed values only (no helpers); each is in autumn_async too."""
    for name in autumn_async.models.__all__:
        assert inspect.isclass(getattr(autumn_async.models, name)), name
        assert name in autumn_async.__all__, name


def test_errors_pickle_under_the_package_name() -> None:
    """An error pickled and unpickled keeps its type, found through autumn_async."""
    import pickle

    error = autumn_async.NotFoundError("no such customer", status_code=404, code="x")
    data = pickle.dumps(error)
    assert b"autumn_async._errors\nNotFoundError" not in data
    clone = pickle.loads(data)
    assert type(clone) is autumn_async.NotFoundError
    assert repr(clone) == repr(error)
