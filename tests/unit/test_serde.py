"""Behaviour of the JSON boundary: decoding, encoding and reading bodies into models."""

from __future__ import annotations

import copy
import json
import math
import pathlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autumn_async import _serde
from autumn_async._serde import SerdeError, dumps, loads, structure, unstructure_request
from autumn_async.models import (
    Balance,
    BalancesCheckResponse,
    BalancesCreateReset,
    BalancesCreateResponse,
    BalancesTrackResponse,
    BalancesUpdateResponse,
    Customer,
    CustomersListResponse,
    Entity,
    Interval,
)

EXAMPLES = pathlib.Path(__file__).parent.parent / "fixtures" / "examples"

_FIXTURE_CLASSES: dict[str, type[Any]] = {
    "balances_check_": BalancesCheckResponse,
    "balances_track_": BalancesTrackResponse,
    "balances_create_response": BalancesCreateResponse,
    "balances_update_response": BalancesUpdateResponse,
    "balance_usage_based_example": Balance,
    "customer_v5_": Customer,
    "customers_list_": CustomersListResponse,
    "entity_v2_": Entity,
}

_RESPONSE_FILES = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.startswith("error_"))


def _class_for(path: pathlib.Path) -> type[Any]:
    for prefix, cls in _FIXTURE_CLASSES.items():
        if path.stem.startswith(prefix):
            return cls
    raise AssertionError(f"no model mapped for fixture {path.name}")


def _example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def _metered() -> dict[str, Any]:
    data: dict[str, Any] = _example("balances_check_response_metered_allowed.json")
    return data


@pytest.fixture(params=["orjson", "stdlib"])
def json_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with orjson and with the standard-library fallback."""
    if request.param == "stdlib":
        monkeypatch.setattr(_serde, "_HAS_ORJSON", False)
    backend: str = request.param
    return backend


class TestExamples:
    def test_fixtures_exist(self) -> None:
        """The example bodies are present beside the tests."""
        assert len(_RESPONSE_FILES) >= 10

    @pytest.mark.parametrize("path", _RESPONSE_FILES, ids=lambda p: p.name)
    def test_every_example_body_structures(self, path: pathlib.Path) -> None:
        """Each response example reads into its model class."""
        cls = _class_for(path)
        result = structure(loads(path.read_bytes()), cls)
        assert isinstance(result, cls)

    def test_metered_check_fields(self) -> None:
        """A metered check answer exposes its balance and breakdown as typed values."""
        result = structure(_metered(), BalancesCheckResponse)
        assert result.allowed is True
        assert result.customer_id == "cus_123"
        assert result.required_balance == 1
        assert result.balance is not None
        assert result.balance.remaining == 72
        assert isinstance(result.balance.remaining, float)
        assert result.balance.breakdown is not None
        breakdown = result.balance.breakdown[0]
        assert breakdown.plan_id == "pro_plan"
        assert breakdown.reset is not None
        assert breakdown.reset.interval == "month"
        assert breakdown.reset.resets_at == 1773851121437
        assert result.flag is None

    def test_boolean_flag_check(self) -> None:
        """A boolean-feature check has no balance and carries the flag."""
        result = structure(
            _example("balances_check_response_boolean_flag.json"), BalancesCheckResponse
        )
        assert result.balance is None
        assert result.flag is not None
        assert result.flag.feature_id == "dashboard"
        assert result.flag.expires_at is None

    def test_denied_with_preview(self) -> None:
        """A denied check with preview exposes the upgrade products and their items."""
        result = structure(
            _example("balances_check_response_denied_with_preview.json"), BalancesCheckResponse
        )
        assert result.preview is not None
        assert result.preview.scenario == "usage_limit"
        assert result.preview.upgrade_product_id == "pro"
        assert result.preview.products is not None
        product = result.preview.products[0]
        assert product.properties is not None
        assert product.properties.interval_group == "month"
        assert product.items is not None
        assert product.items[0].display is not None
        assert product.items[0].display.secondary_text == "per month"

    def test_track_event_name_multi(self) -> None:
        """A track hitting two features has no single balance and a map of both."""
        result = structure(
            _example("balances_track_response_event_name_multi.json"), BalancesTrackResponse
        )
        assert result.balance is None
        assert result.balances is not None
        assert set(result.balances) == {"messages", "api_calls"}
        api_calls = result.balances["api_calls"]
        assert api_calls is not None
        assert api_calls.unlimited is True
        assert api_calls.next_reset_at is None

    def test_usage_based_balance(self) -> None:
        """A balance in overage keeps its negative breakdown, price and rollovers."""
        result = structure(_example("balance_usage_based_example.json"), Balance)
        assert result.breakdown is not None
        assert result.breakdown[0].remaining == -250
        price = result.breakdown[0].price
        assert price is not None
        assert price.billing_method == "usage_based"
        assert price.amount == 0.5
        assert result.rollovers is not None
        assert result.rollovers[0].balance == 40
        assert result.rollovers[0].granted is None


class TestLenientShape:
    def test_unknown_keys_are_ignored(self) -> None:
        """Keys the model does not know are ignored at every level."""
        data = _metered()
        data["new_top_level"] = {"x": 1}
        data["balance"]["object"] = "balance"
        data["balance"]["breakdown"][0]["overage"] = 5
        result = structure(data, BalancesCheckResponse)
        assert result == structure(_metered(), BalancesCheckResponse)

    def test_unknown_enum_strings_are_kept(self) -> None:
        """Enum-valued fields keep values the SDK does not know."""
        data = _metered()
        data["balance"]["breakdown"][0]["reset"]["interval"] = "multiple"
        data["balance"]["feature"] = {
            "id": "credits",
            "name": "Credits",
            "type": "ai_credit_system",
        }
        result = structure(data, BalancesCheckResponse)
        assert result.balance is not None
        assert result.balance.feature is not None
        assert result.balance.feature.type == "ai_credit_system"
        assert result.balance.breakdown is not None
        reset = result.balance.breakdown[0].reset
        assert reset is not None
        assert reset.interval == "multiple"

    def test_balances_map_may_hold_null(self) -> None:
        """A ``balances`` map value of ``null`` becomes ``None``."""
        data = _metered()
        data["balances"] = {"messages": data["balance"], "credits": None}
        result = structure(data, BalancesCheckResponse)
        assert result.balances is not None
        assert result.balances["credits"] is None
        assert result.balances["messages"] == result.balance

    def test_breakdown_without_expires_at(self) -> None:
        """A breakdown entry without ``expires_at`` (older servers) reads as ``None``."""
        data = _metered()
        del data["balance"]["breakdown"][0]["expires_at"]
        del data["balance"]["breakdown"][0]["id"]
        result = structure(data, BalancesCheckResponse)
        assert result.balance is not None
        assert result.balance.breakdown is not None
        assert result.balance.breakdown[0].expires_at is None
        assert result.balance.breakdown[0].id == ""

    def test_preview_null(self) -> None:
        """``preview: null`` (allowed check made with preview) reads as ``None``."""
        data = _metered()
        data["preview"] = None
        assert structure(data, BalancesCheckResponse).preview is None

    def test_absent_flag_and_optional_keys(self) -> None:
        """Older bodies without ``flag`` or ``required_balance`` still read."""
        result = structure({"allowed": False, "customer_id": "c"}, BalancesCheckResponse)
        assert result.flag is None
        assert result.required_balance is None

    def test_tiers_with_inf_and_flat_amount(self) -> None:
        """Price tiers accept ``"inf"`` as upper bound and an optional ``flat_amount``."""
        data = _metered()
        data["balance"]["breakdown"][0]["price"] = {
            "billing_units": 1,
            "billing_method": "prepaid",
            "max_purchase": None,
            "tiers": [
                {"to": 100, "amount": 1},
                {"to": "inf", "amount": 0.5, "flat_amount": 10},
            ],
            "tier_behavior": "volume",
        }
        result = structure(data, BalancesCheckResponse)
        assert result.balance is not None
        assert result.balance.breakdown is not None
        price = result.balance.breakdown[0].price
        assert price is not None
        assert price.tiers is not None
        assert [t.to for t in price.tiers] == [100.0, "inf"]
        assert price.tiers[1].flat_amount == 10
        assert price.tiers[0].flat_amount is None
        assert price.tier_behavior == "volume"

    def test_track_deductions_and_rollover_granted(self) -> None:
        """Newer track bodies with ``deductions`` and rollover ``granted`` read fully."""
        data = _example("balances_track_response_feature.json")
        data["balance"]["rollovers"] = [{"balance": 5, "expires_at": 1, "granted": 10}]
        data["deductions"] = [
            {
                "balance_id": "cus_ent_1",
                "feature_id": "messages",
                "plan_id": None,
                "reset": {"interval": "month", "resets_at": None},
                "value": 3,
            },
            {"value": -1},
        ]
        result = structure(data, BalancesTrackResponse)
        assert result.deductions is not None
        assert result.deductions[0].reset is not None
        assert result.deductions[0].reset.interval == "month"
        assert result.deductions[1].balance_id is None
        assert result.balance is not None
        assert result.balance.rollovers is not None
        assert result.balance.rollovers[0].granted == 10


class TestClientSideFields:
    def test_check_fallback_fields_not_read_from_json(self) -> None:
        """A body cannot set the SDK's fallback markers on a check response."""
        data = _metered()
        data.update(fallback=True, fallback_source="server", fallback_cause="boom")
        result = structure(data, BalancesCheckResponse)
        assert (result.fallback, result.fallback_source, result.fallback_cause) == (
            False,
            None,
            None,
        )

    def test_track_queued_and_replayed_not_read_from_json(self) -> None:
        """A body saying ``queued`` or ``replayed`` does not set those markers."""
        data = _example("balances_track_response_queued_202.json")
        data.update(queued=True, replayed=True)
        result = structure(data, BalancesTrackResponse)
        assert (result.queued, result.replayed) == (False, False)

    @pytest.mark.parametrize("cls", [BalancesCreateResponse, BalancesUpdateResponse])
    def test_replayed_not_read_from_json(self, cls: type[Any]) -> None:
        """``replayed`` on create/update responses is never taken from the body."""
        assert structure({"success": True, "replayed": True}, cls).replayed is False

    def test_client_side_values_of_wrong_type_are_not_errors(self) -> None:
        """Since client-side keys are ignored, their JSON type does not matter."""
        data = _metered()
        data["fallback"] = "not a bool"
        assert structure(data, BalancesCheckResponse).fallback is False


class TestStrictTypes:
    def test_string_for_number_names_the_path(self) -> None:
        """A string where a number belongs raises ``SerdeError`` naming the nested path."""
        data = _metered()
        data["balance"]["breakdown"][0]["remaining"] = "abc"
        with pytest.raises(SerdeError) as info:
            structure(data, BalancesCheckResponse)
        assert str(info.value) == "balance.breakdown[0].remaining: expected a number, got 'abc'"
        assert info.value.path == "balance.breakdown[0].remaining"

    @pytest.mark.parametrize("value", [True, False])
    def test_bool_is_not_a_number(self, value: bool) -> None:
        """``true``/``false`` are refused where a number belongs."""
        data = _metered()
        data["balance"]["usage"] = value
        with pytest.raises(SerdeError, match=r"^balance\.usage: expected a number"):
            structure(data, BalancesCheckResponse)

    @pytest.mark.parametrize("value", [1, 0, "true", None])
    def test_only_bools_for_bool_fields(self, value: Any) -> None:
        """Numbers, strings and ``null`` are refused for a required bool field."""
        data = _metered()
        data["allowed"] = value
        with pytest.raises(SerdeError, match=r"^allowed: expected true or false"):
            structure(data, BalancesCheckResponse)

    def test_numbers_are_not_stringified(self) -> None:
        """A number where a string belongs is refused, not converted."""
        data = _metered()
        data["customer_id"] = 123
        with pytest.raises(SerdeError, match="customer_id: expected a string, got 123"):
            structure(data, BalancesCheckResponse)

    def test_null_only_where_optional(self) -> None:
        """``null`` for a required, non-nullable field is refused."""
        data = _metered()
        data["balance"]["granted"] = None
        with pytest.raises(SerdeError, match=r"balance\.granted: expected a number, got None"):
            structure(data, BalancesCheckResponse)

    def test_missing_required_field(self) -> None:
        """A missing required key is reported by path."""
        data = _metered()
        del data["balance"]["feature_id"]
        with pytest.raises(SerdeError, match=r"balance\.feature_id: required field missing"):
            structure(data, BalancesCheckResponse)

    def test_error_inside_balances_map_names_the_key(self) -> None:
        """An error inside the ``balances`` map shows the map key in the path."""
        data = _metered()
        bad = copy.deepcopy(data["balance"])
        bad["remaining"] = "72"
        data["balances"] = {"messages": bad}
        with pytest.raises(SerdeError) as info:
            structure(data, BalancesCheckResponse)
        assert info.value.path == "balances['messages'].remaining"

    @pytest.mark.parametrize(
        ("mutate", "path"),
        [
            (lambda d: d["balance"].__setitem__("breakdown", {"a": 1}), "balance.breakdown"),
            (lambda d: d["balance"].__setitem__("breakdown", "abc"), "balance.breakdown"),
            (lambda d: d.__setitem__("balance", [1]), "balance"),
            (lambda d: d.__setitem__("balances", [None]), "balances"),
        ],
    )
    def test_wrong_container_types(self, mutate: Any, path: str) -> None:
        """Lists, objects and strings are not accepted in place of one another."""
        data = _metered()
        mutate(data)
        with pytest.raises(SerdeError) as info:
            structure(data, BalancesCheckResponse)
        assert info.value.path == path

    def test_top_level_must_be_an_object(self) -> None:
        """A body that is not a JSON object is refused with an empty path."""
        with pytest.raises(SerdeError, match="expected an object") as info:
            structure([1, 2], BalancesCheckResponse)
        assert info.value.path == ""

    def test_tier_bound_must_be_number_or_string(self) -> None:
        """A tier bound of ``true`` is refused."""
        data = _metered()
        data["balance"]["breakdown"][0]["price"] = {"tiers": [{"to": True, "amount": 1}]}
        with pytest.raises(SerdeError) as info:
            structure(data, BalancesCheckResponse)
        assert info.value.path == "balance.breakdown[0].price.tiers[0].to"

    def test_many_errors_are_capped(self) -> None:
        """A wholly wrong body lists a few problems and counts the rest."""
        with pytest.raises(SerdeError, match=r"and \d+ more$"):
            structure({"balance": {}}, BalancesCheckResponse)

    def test_serde_error_is_value_error(self) -> None:
        """``SerdeError`` can be caught as ``ValueError``."""
        assert issubclass(SerdeError, ValueError)

    def test_fast_path_has_no_detailed_validation(self) -> None:
        """Good bodies go through the converter without per-field error bookkeeping."""
        assert _serde._FAST.detailed_validation is False


class TestLoads:
    def test_decodes_json(self, json_backend: str) -> None:
        """A JSON body decodes to Python values."""
        assert loads(b'{"a": [1, 2.5, null, true]}') == {"a": [1, 2.5, None, True]}

    @pytest.mark.parametrize(
        "body",
        [b"\xff\xfe", b'{"a": "\xe9"}', b"{", b"", b"NaN", b"[Infinity]", b"[1e400]"],
    )
    def test_refuses_invalid_bodies(self, json_backend: str, body: bytes) -> None:
        """Invalid UTF-8, invalid JSON, NaN and out-of-range numbers raise ``SerdeError``."""
        with pytest.raises(SerdeError) as info:
            loads(body)
        assert "response body is not valid" in str(info.value)
        assert info.value.path is None

    def test_deep_nesting_is_refused(self, json_backend: str) -> None:
        """A body nested deeper than the decoder allows raises ``SerdeError``."""
        with pytest.raises(SerdeError):
            loads(b"[" * 100_000 + b"]" * 100_000)

    def test_invalid_utf8_is_named(self) -> None:
        """Without orjson, bad UTF-8 is reported as such."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_serde, "_HAS_ORJSON", False)
            with pytest.raises(SerdeError, match="UTF-8"):
                loads(b'{"a": "\xff"}')


class TestDumps:
    def test_compact_output(self, json_backend: str) -> None:
        """Output has no whitespace between tokens."""
        assert dumps({"a": [1, "x"], "b": None}) == b'{"a":[1,"x"],"b":null}'

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    def test_refuses_non_finite_numbers(self, json_backend: str, value: float) -> None:
        """NaN and infinities raise ``SerdeError`` instead of becoming ``null``."""
        with pytest.raises(SerdeError):
            dumps({"value": value})
        with pytest.raises(SerdeError):
            dumps({"nested": [{"x": value}]})

    def test_refuses_unencodable_objects(self, json_backend: str) -> None:
        """Objects JSON cannot hold raise ``SerdeError``."""
        with pytest.raises(SerdeError):
            dumps({"x": object()})

    @given(
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**53), 2**53)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
            ),
            max_leaves=20,
        )
    )
    def test_round_trip(self, value: Any) -> None:
        """Whatever ``dumps`` writes, ``loads`` reads back equal, with either backend."""
        assert loads(dumps(value)) == value
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_serde, "_HAS_ORJSON", False)
            assert loads(dumps(value)) == value


class TestUnstructureRequest:
    def test_drops_none(self) -> None:
        """Unset optional fields are left out of the request body."""
        assert unstructure_request(BalancesCreateReset(interval="month")) == {"interval": "month"}

    def test_keeps_set_fields_as_wire_values(self) -> None:
        """Set fields are written with their wire values."""
        reset = BalancesCreateReset(interval=Interval.WEEK, interval_count=2)
        body = unstructure_request(reset)
        assert body == {"interval": "week", "interval_count": 2}
        assert dumps(body) == b'{"interval":"week","interval_count":2}'

    def test_refuses_non_models(self) -> None:
        """Passing something that is not a model is a ``TypeError``."""
        with pytest.raises(TypeError):
            unstructure_request({"interval": "month"})
