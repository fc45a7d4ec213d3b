"""Behaviour of the model classes and the request-side coercion helpers."""

from __future__ import annotations

import pickle
import subprocess
import sys
import typing
from typing import Any

import attrs
import pytest

from autumn_async import UsageError, models
from autumn_async._request_models import coerce_interval, coerce_reset
from autumn_async.models import (
    Balance,
    BalancesCheckResponse,
    BalancesCreateInterval,
    BalancesCreateReset,
    BalancesCreateResponse,
    BalancesTrackResponse,
    BalancesUpdateInterval,
    BalancesUpdateResponse,
    Interval,
)

_MODEL_CLASSES = [
    getattr(models, name) for name in models.__all__ if attrs.has(getattr(models, name))
]


def _balance() -> Balance:
    return Balance(
        feature_id="messages",
        granted=100,
        remaining=72,
        usage=28,
        unlimited=False,
        overage_allowed=False,
    )


class TestModuleSurface:
    def test_all_is_sorted_and_complete(self) -> None:
        """``__all__`` is sorted and lists every public class and function of the module."""
        assert models.__all__ == sorted(models.__all__)
        public = {
            name
            for name, value in vars(models).items()
            if not name.startswith("_")
            and (attrs.has(value) or callable(value))
            and getattr(value, "__module__", None) == models.__name__
        }
        assert public <= set(models.__all__)

    @pytest.mark.parametrize("cls", _MODEL_CLASSES, ids=lambda c: c.__name__)
    def test_models_are_frozen_keyword_only_and_documented(self, cls: type[Any]) -> None:
        """Every model is a frozen, keyword-only attrs class with a docstring."""
        assert cls.__doc__
        assert all(field.kw_only for field in attrs.fields(cls))
        setattr_method: Any = cls.__setattr__
        assert setattr_method is not object.__setattr__
        with pytest.raises(TypeError):
            cls("positional")

    @pytest.mark.parametrize("cls", _MODEL_CLASSES, ids=lambda c: c.__name__)
    def test_type_hints_resolve_under_the_public_module(self, cls: type[Any]) -> None:
        """Every model names ``autumn_async.models``; its hints resolve (the readers need them)."""
        assert cls.__module__ == "autumn_async.models"
        hints = typing.get_type_hints(cls)
        assert set(hints) >= {field.name for field in attrs.fields(cls)}

    def test_customer_models_resolve_when_imported_first(self) -> None:
        """The customer models' hints resolve in a process that never imported ``models``."""
        code = (
            "import sys, typing\n"
            "from autumn_async._customer_models import Customer, CustomersListResponse\n"
            "assert 'autumn_async.models' not in sys.modules\n"
            "typing.get_type_hints(Customer); typing.get_type_hints(CustomersListResponse)\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

    def test_instances_cannot_be_mutated(self) -> None:
        """Assigning to a field of a model raises ``FrozenInstanceError``."""
        balance = _balance()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            balance.remaining = 1  # type: ignore[misc]


class TestResponseDefaults:
    def test_optional_fields_default_to_none(self) -> None:
        """A check response needs only ``allowed`` and ``customer_id``; the rest is ``None``."""
        response = BalancesCheckResponse(allowed=True, customer_id="cus_1")
        assert response.balance is None
        assert response.flag is None
        assert response.balances is None
        assert response.preview is None
        assert response.required_balance is None
        assert response.entity_id is None

    def test_client_side_fields_default_to_not_set(self) -> None:
        """Fallback, queued and replayed markers are off unless the SDK sets them."""
        check = BalancesCheckResponse(allowed=True, customer_id="c")
        assert (check.fallback, check.fallback_source, check.fallback_cause) == (False, None, None)
        track = BalancesTrackResponse(customer_id="c", value=1)
        assert (track.queued, track.replayed) == (False, False)
        assert BalancesCreateResponse(success=True).replayed is False
        assert BalancesUpdateResponse(success=True).replayed is False

    @pytest.mark.parametrize(
        ("cls", "names"),
        [
            (BalancesCheckResponse, {"fallback", "fallback_source", "fallback_cause"}),
            (BalancesTrackResponse, {"queued", "replayed"}),
            (BalancesCreateResponse, {"replayed"}),
            (BalancesUpdateResponse, {"replayed"}),
        ],
    )
    def test_client_side_fields_are_marked(self, cls: type[Any], names: set[str]) -> None:
        """Exactly the SDK-set fields carry ``client_side`` metadata."""
        marked = {f.name for f in attrs.fields(cls) if f.metadata.get("client_side")}
        assert marked == names

    def test_fallback_cause_is_ignored_by_equality_and_shown_as_type(self) -> None:
        """``fallback_cause`` does not affect equality, and ``repr`` shows only its type."""
        first = BalancesCheckResponse(
            allowed=True,
            customer_id="c",
            fallback=True,
            fallback_source="client",
            fallback_cause=TimeoutError("https://secret.example/path"),
        )
        second = attrs.evolve(first, fallback_cause=ConnectionError("other"))
        assert first == second
        assert hash(first) == hash(second)
        assert "fallback_cause=TimeoutError" in repr(first)
        assert "secret.example" not in repr(first)

    def test_models_pickle(self) -> None:
        """A response with nested objects survives pickling unchanged."""
        response = BalancesTrackResponse(
            customer_id="c", value=3, balance=_balance(), balances={"x": None}
        )
        assert pickle.loads(pickle.dumps(response)) == response


class TestInterval:
    def test_interval_has_the_nine_api_values(self) -> None:
        """``Interval`` lists exactly the nine reset intervals of the API."""
        assert [member.value for member in Interval] == [
            "one_off",
            "minute",
            "hour",
            "day",
            "week",
            "month",
            "quarter",
            "semi_annual",
            "year",
        ]

    def test_generated_sdk_names_are_aliases(self) -> None:
        """``BalancesCreateInterval`` and ``BalancesUpdateInterval`` are ``Interval``."""
        assert BalancesCreateInterval is Interval
        assert BalancesUpdateInterval is Interval

    def test_interval_members_are_strings(self) -> None:
        """Interval members compare equal to their wire strings."""
        member: str = Interval.MONTH
        assert member == "month"


class TestCoerceInterval:
    @pytest.mark.parametrize("value", [Interval.WEEK, "week"])
    def test_accepts_member_or_string(self, value: Any) -> None:
        """An ``Interval`` member or its string both give the wire string."""
        result = coerce_interval(value, "interval")
        assert result == "week"
        assert type(result) is str

    def test_rejects_unknown_string_listing_valid_values(self) -> None:
        """An unknown interval string is refused with the valid values and the field name."""
        with pytest.raises(UsageError, match="one_off, minute") as info:
            coerce_interval("monthly", "reset.interval")
        assert info.value.field == "reset.interval"
        assert "'monthly'" in str(info.value)

    @pytest.mark.parametrize("value", ["", None, 3, b"month"])
    def test_rejects_empty_and_non_strings(self, value: Any) -> None:
        """Empty strings and non-strings are refused with a ``UsageError`` naming the field."""
        with pytest.raises(UsageError) as info:
            coerce_interval(value, "interval")
        assert info.value.field == "interval"

    def test_multiple_is_not_a_request_interval(self) -> None:
        """``"multiple"`` appears in responses only and is refused on requests."""
        with pytest.raises(UsageError):
            coerce_interval("multiple", "interval")


class TestCoerceReset:
    def test_accepts_model(self) -> None:
        """A ``BalancesCreateReset`` is returned as is."""
        reset = BalancesCreateReset(interval="month", interval_count=2)
        assert coerce_reset(reset) is reset

    def test_accepts_mapping(self) -> None:
        """A mapping with ``interval`` and ``interval_count`` builds the model."""
        assert coerce_reset({"interval": "month", "interval_count": 1}) == BalancesCreateReset(
            interval="month", interval_count=1
        )

    def test_accepts_mapping_with_enum_member(self) -> None:
        """A mapping may give the interval as an ``Interval`` member."""
        assert coerce_reset({"interval": Interval.DAY}) == BalancesCreateReset(interval="day")

    @pytest.mark.parametrize("value", ["month", Interval.MONTH])
    def test_accepts_bare_interval(self, value: Any) -> None:
        """A bare interval means every one such interval."""
        assert coerce_reset(value) == BalancesCreateReset(interval="month")

    def test_model_stores_wire_string_for_enum_member(self) -> None:
        """Building the model from an ``Interval`` member stores its plain string."""
        reset = BalancesCreateReset(interval=Interval.YEAR)
        assert type(reset.interval) is str
        assert reset.interval == "year"

    @pytest.mark.parametrize(
        ("value", "field"),
        [
            ({"interval": "fortnight"}, "reset.interval"),
            ({"interval_count": 1}, "reset.interval"),
            ({"interval": "month", "interval_count": 0}, "reset.interval_count"),
            ({"interval": "month", "interval_count": -1}, "reset.interval_count"),
            ({"interval": "month", "interval_count": float("nan")}, "reset.interval_count"),
            ({"interval": "month", "interval_count": float("inf")}, "reset.interval_count"),
            ({"interval": "month", "interval_count": True}, "reset.interval_count"),
            ({"interval": "month", "interval_count": "1"}, "reset.interval_count"),
            ({"interval": "month", "every": 1}, "reset"),
            ("", "reset.interval"),
            (42, "reset"),
            (None, "reset"),
        ],
    )
    def test_rejects_bad_input_naming_the_field(self, value: Any, field: str) -> None:
        """Bad reset input raises ``UsageError`` whose ``field`` names the offending part."""
        with pytest.raises(UsageError) as info:
            coerce_reset(value)
        assert info.value.field == field
        assert field in str(info.value)

    def test_field_prefix_is_used(self) -> None:
        """The caller's field name prefixes the reported field."""
        with pytest.raises(UsageError) as info:
            coerce_reset({"interval": "nope"}, field="balance.reset")
        assert info.value.field == "balance.reset.interval"

    @pytest.mark.parametrize(
        "kwargs",
        [{"interval": "weekly"}, {"interval": "week", "interval_count": 0}],
    )
    def test_direct_construction_validates(self, kwargs: dict[str, Any]) -> None:
        """Building ``BalancesCreateReset`` directly applies the same checks."""
        with pytest.raises(UsageError):
            BalancesCreateReset(**kwargs)
