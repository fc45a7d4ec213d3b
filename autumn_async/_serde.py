"""JSON bytes to models and back: the SDK's one boundary with cattrs (and orjson).

Reading is lenient in shape (unknown keys ignored, open enums are plain strings) and
strict in type: a string is never turned into a number, a number never into a string,
``True`` is not the number 1. A body that does not fit raises :class:`SerdeError`
whose message names the offending field, e.g.
``balance.breakdown[0].remaining: expected a number, got 'abc'``.

Two private converters share the same hooks. The fast one (no per-field error
bookkeeping) reads every body; only when it fails does the detailed one read the body
again to find where, so a good answer pays nothing for error reporting.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar, Union

import attrs
import cattrs
from cattrs import BaseConverter
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, override

from ._fastread import reader_for

_ORJSON_FLOOR = (3, 9, 15)

try:
    import orjson

    # orjson before 3.9.15 crashes the whole process on deeply nested JSON (CVE-2024-27454):
    # a hostile or broken server must not be able to do that, so an older one is not used.
    _HAS_ORJSON = tuple(int(part) for part in orjson.__version__.split(".")[:3]) >= _ORJSON_FLOOR
except (ImportError, ValueError):  # pragma: no cover - orjson is the optional "speed" extra
    _HAS_ORJSON = False

__all__ = ["SerdeError", "dumps", "loads", "prepare", "structure", "unstructure_request"]

T = TypeVar("T")

_Hook = Callable[[Any, Any], Any]

#: Longest ``repr`` of an offending value quoted in an error message.
_MAX_VALUE_REPR = 60
#: Most problems listed in one error message (a wholly wrong body would list dozens).
_MAX_REPORTED = 5


class SerdeError(ValueError):
    """A body is not valid JSON, or its JSON does not fit the expected model.

    ``path`` locates the first offending field (``""`` for the body itself), or is
    ``None`` when the bytes were not JSON at all.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class _WireTypeError(TypeError):
    """A JSON value of the wrong type; ``problem`` is the readable description."""

    def __init__(self, expected: str, value: object) -> None:
        text = repr(value)
        if len(text) > _MAX_VALUE_REPR:
            text = text[: _MAX_VALUE_REPR - 3] + "..."
        self.problem = f"expected {expected}, got {text}"
        super().__init__(self.problem)


# --- JSON ---------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text} is out of range")
    return number


#: Built once: ``json.loads`` with keyword arguments builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def loads(body: bytes) -> Any:
    """Decode a UTF-8 JSON body; invalid UTF-8, invalid JSON, ``NaN`` and numbers out of
    float range raise :class:`SerdeError`."""
    if _HAS_ORJSON:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise SerdeError(f"response body is not valid JSON: {exc}") from exc
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SerdeError(f"response body is not valid UTF-8: {exc}") from exc
    try:
        return _DECODER.decode(text)
    except ValueError as exc:
        raise SerdeError(f"response body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SerdeError("response body is not valid JSON: nested too deeply") from exc


def _check_finite(obj: Any) -> None:
    # orjson writes NaN and infinities as null; the API would read a wrong value.
    kind = type(obj)
    if kind is float:
        if not math.isfinite(obj):
            raise SerdeError(f"cannot send {obj!r}: JSON has no NaN or infinity")
    elif kind is dict:
        for item in obj.values():
            _check_finite(item)
    elif kind is list or kind is tuple:
        for item in obj:
            _check_finite(item)


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact JSON bytes; ``NaN``, infinities and values JSON cannot
    hold raise :class:`SerdeError`."""
    if _HAS_ORJSON:
        _check_finite(obj)
        try:
            return orjson.dumps(obj)
        except TypeError as exc:  # orjson.JSONEncodeError
            raise SerdeError(f"cannot encode as JSON: {exc}") from exc
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise SerdeError(f"cannot encode as JSON: {exc}") from exc


# --- strict scalar hooks --------------------------------------------------------------


def _structure_float(value: Any, _: Any) -> float:
    kind = type(value)
    if kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    raise _WireTypeError("a number", value)


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is str:
        return value
    raise _WireTypeError("a string", value)


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    raise _WireTypeError("true or false", value)


def _structure_float_or_str(value: Any, _: Any) -> float | str:
    # Tier bounds and included usage are numbers or the string "inf".
    kind = type(value)
    if kind is str or kind is float:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    raise _WireTypeError('a number or a string such as "inf"', value)


# --- container and class hook factories ------------------------------------------------


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(tp)
    return None


def _is_optional(tp: Any) -> bool:
    args = _union_args(tp)
    return args is not None and type(None) in args


def _is_float_or_str(tp: Any) -> bool:
    args = _union_args(tp)
    return args is not None and set(args) == {float, str}


def _add_note(exc: BaseException, note: str) -> None:
    # BaseException.add_note() is 3.11+; cattrs reads the attribute on 3.10 too.
    target: Any = exc
    target.__notes__ = [*getattr(exc, "__notes__", []), note]


def _is_list(tp: Any) -> bool:
    origin: Any = typing.get_origin(tp)
    return origin is list


def _is_dict(tp: Any) -> bool:
    origin: Any = typing.get_origin(tp)
    return origin is dict


def _structure_opt_float(value: Any, _: Any) -> float | None:
    kind = type(value)
    if kind is float or value is None:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return float(value)
    raise _WireTypeError("a number", value)


def _structure_opt_str(value: Any, _: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _WireTypeError("a string", value)


def _structure_opt_bool(value: Any, _: Any) -> bool | None:
    if value is None or value is True or value is False:
        return value
    raise _WireTypeError("true or false", value)


# Most response fields are optional scalars: one call each instead of a wrapper calling
# the scalar hook (this is on every call's path; it halves the time to read a balance).
_OPTIONAL_SCALARS: dict[Any, _Hook] = {
    float: _structure_opt_float,
    str: _structure_opt_str,
    bool: _structure_opt_bool,
}


def _make_optional(tp: Any, conv: BaseConverter) -> _Hook:
    rest = tuple(arg for arg in typing.get_args(tp) if arg is not type(None))
    if len(rest) == 1 and rest[0] in _OPTIONAL_SCALARS:
        return _OPTIONAL_SCALARS[rest[0]]
    inner: Any = rest[0] if len(rest) == 1 else Union[rest]  # noqa: UP007 (a runtime value)
    handler = conv.get_structure_hook(inner)

    def structure_optional(value: Any, _: Any) -> Any:
        if value is None:
            return None
        return handler(value, inner)

    return structure_optional


def _make_list(tp: Any, conv: BaseConverter) -> _Hook:
    (item_type,) = typing.get_args(tp) or (Any,)
    handler = conv.get_structure_hook(item_type)

    if conv.detailed_validation:

        def structure_list_detailed(value: Any, _: Any) -> list[Any]:
            if type(value) is not list:
                raise _WireTypeError("a list", value)
            result, errors = [], []
            for index, item in enumerate(value):
                try:
                    result.append(handler(item, item_type))
                except Exception as exc:  # noqa: BLE001 (collected and re-raised below)
                    note = IterableValidationNote(f"@ index {index}", index, item_type)
                    _add_note(exc, note)
                    errors.append(exc)
            if errors:
                raise cattrs.IterableValidationError("While structuring a list", errors, tp)
            return result

        return structure_list_detailed

    def structure_list(value: Any, _: Any) -> list[Any]:
        if type(value) is not list:
            raise _WireTypeError("a list", value)
        return [handler(item, item_type) for item in value]

    return structure_list


def _make_dict(tp: Any, conv: BaseConverter) -> _Hook:
    args = typing.get_args(tp)
    value_type: Any = args[1] if len(args) == 2 else Any
    handler = conv.get_structure_hook(value_type)

    if conv.detailed_validation:

        def structure_dict_detailed(value: Any, _: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise _WireTypeError("an object", value)
            result, errors = {}, []
            for key, item in value.items():
                try:
                    result[key] = handler(item, value_type)
                except Exception as exc:  # noqa: BLE001 (collected and re-raised below)
                    note = IterableValidationNote(f"@ key {key!r}", key, value_type)
                    _add_note(exc, note)
                    errors.append(exc)
            if errors:
                raise cattrs.IterableValidationError("While structuring a mapping", errors, tp)
            return result

        return structure_dict_detailed

    def structure_dict(value: Any, _: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise _WireTypeError("an object", value)
        return {key: handler(item, value_type) for key, item in value.items()}

    return structure_dict


def _make_attrs(cls: Any, conv: BaseConverter) -> _Hook:
    # Client-side fields (fallback, queued, replayed, ...) are the SDK's own verdicts: a
    # body saying "queued": true must not be able to set them.
    overrides: dict[str, Any] = {
        a.name: override(omit=True) for a in attrs.fields(cls) if a.metadata.get("client_side")
    }
    generated = make_dict_structure_fn(
        cls, conv, _cattrs_forbid_extra_keys=False, _cattrs_use_linecache=False, **overrides
    )

    def structure_object(value: Any, _: Any) -> Any:
        if type(value) is not dict:
            raise _WireTypeError("an object", value)
        return generated(value, cls)

    return structure_object


def _new_converter(*, detailed: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=detailed)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook_factory(attrs.has, _make_attrs)
    conv.register_structure_hook_factory(_is_list, _make_list)
    conv.register_structure_hook_factory(_is_dict, _make_dict)
    conv.register_structure_hook_factory(_is_optional, _make_optional)
    # cattrs has no hook for a union of two scalars; Tier.to needs one.
    conv.register_structure_hook_factory(_is_float_or_str, lambda _t, _c: _structure_float_or_str)
    return conv


_FAST = _new_converter(detailed=False)
_DETAILED = _new_converter(detailed=True)
_UNSTRUCTURE = cattrs.Converter()


# --- error paths --------------------------------------------------------------------


def _problem(exc: BaseException) -> str:
    if isinstance(exc, _WireTypeError):
        return exc.problem
    if isinstance(exc, KeyError):
        return "required field missing"
    return f"invalid value ({type(exc).__name__}: {exc})"


def _collect(exc: BaseException, path: str, out: list[tuple[str, str]]) -> None:
    if isinstance(exc, BaseValidationError):
        for inner in exc.exceptions:
            step = ""
            for note in getattr(inner, "__notes__", ()):
                if isinstance(note, AttributeValidationNote):
                    step = f".{note.name}" if path else note.name
                elif isinstance(note, IterableValidationNote):
                    index = note.index
                    step = f"[{index}]" if isinstance(index, int) else f"[{index!r}]"
            _collect(inner, path + step, out)
        return
    out.append((path, _problem(exc)))


def _describe(data: Any, cls: type[Any]) -> SerdeError:
    try:
        _DETAILED.structure(data, cls)
    except Exception as exc:  # noqa: BLE001 (every failure is described below)
        found: list[tuple[str, str]] = []
        _collect(exc, "", found)
        shown = [f"{p}: {m}" if p else m for p, m in found[:_MAX_REPORTED]]
        if len(found) > _MAX_REPORTED:
            shown.append(f"and {len(found) - _MAX_REPORTED} more")
        message = "; ".join(shown)
        return SerdeError(message, path=found[0][0] if found else "")
    # Unreachable unless the two converters disagree; still say something useful.
    return SerdeError(f"body does not fit {cls.__name__}", path="")


_HOOKS: dict[Any, _Hook] = {}


def structure(data: Any, cls: type[T]) -> T:
    """Read decoded JSON into ``cls``; a value of the wrong type or a missing required
    field raises :class:`SerdeError` naming its path."""
    hook = _HOOKS.get(cls)
    if hook is None:
        hook = _HOOKS[cls] = _hook_for(cls)
    try:
        return hook(data, cls)  # type: ignore[no-any-return]
    except Exception as exc:
        raise _describe(data, cls) from exc


def _hook_for(cls: type[Any]) -> _Hook:
    # The generated straight-line reader where there is one, cattrs' otherwise; the
    # detailed converter explains any failure either way.
    reader = reader_for(cls)
    if reader is None:
        return _FAST.get_structure_hook(cls)
    return lambda data, _cls: reader(data)


def prepare(*classes: type[Any]) -> None:
    """Build the structuring functions of ``classes`` now (about 10 ms each, once) rather
    than on the first response, which may be read on a busy event loop."""
    for cls in classes:
        _HOOKS[cls] = _hook_for(cls)


def _drop_none(value: Any) -> Any:
    if type(value) is dict:
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if type(value) is list:
        return [_drop_none(v) for v in value]
    return value


def unstructure_request(model: Any) -> dict[str, Any]:
    """Turn a request-side model (e.g. ``BalancesCreateReset``) into a JSON-ready dict,
    leaving out fields that are ``None``."""
    if not attrs.has(type(model)):
        raise TypeError(f"expected an attrs model, got {type(model).__name__}")
    result: dict[str, Any] = _drop_none(_UNSTRUCTURE.unstructure(model))
    return result
