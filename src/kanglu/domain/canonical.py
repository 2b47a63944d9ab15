"""Canonical JSON of domain values: the text a stored fingerprint hashes, the same for equal
values whatever the order of their fields (see domain/orders.py for the fingerprint)."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import attrs


def canonical_json(value: object) -> str:
    """The canonical text of `value` (attrs classes, enums, Decimal, dates, sequences, dicts
    with text keys, plain JSON values): keys sorted, compact, ASCII (the rest escaped), attrs
    fields at their default left out. Equal values give equal text whatever the order of their
    fields."""
    return _ENCODER.encode(value)


def _plain(value: object) -> object:
    """What the JSON encoder cannot write itself, one level down (it walks the rest in C: every
    poll computes this for each order it lists)."""
    cls = type(value)
    convert = _CONVERTERS.get(cls)
    if convert is None:  # once per class
        convert = _CONVERTERS[cls] = _converter_for(cls)
    return convert(value)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False, default=_plain)
_Converter = Callable[[Any], object]
_CONVERTERS: dict[type, _Converter] = {}  # a race only builds the same converter twice
_NO_DEFAULT = object()
_FACTORY: type = type(attrs.Factory(list))  # attrs.Factory is typed as a function


def _converter_for(cls: type) -> _Converter:
    # str and int subclasses (StrEnum, IntEnum, bool) never get here: the encoder writes them
    # as their value, as it does tuples, lists and dicts.
    if attrs.has(cls):
        return _attrs_converter(tuple((f.name, _default_of(f)) for f in attrs.fields(cls)))
    if issubclass(cls, enum.Enum):
        return lambda value: value.value
    if issubclass(cls, Decimal):
        return str
    if issubclass(cls, date):  # datetime included
        return lambda value: value.isoformat()
    raise TypeError(f"no canonical form for {cls.__name__}")


def _attrs_converter(fields: tuple[tuple[str, Any], ...]) -> _Converter:
    """An attrs instance as a dict of its fields, each left out while it holds its default."""

    def convert(value: Any) -> object:
        found = {}
        for name, default in fields:
            item = getattr(value, name)
            if default is _NO_DEFAULT or type(item) is not type(default) or item != default:
                found[name] = item
        return found

    return convert


def _default_of(field: attrs.Attribute[Any]) -> Any:
    """The field's default; a factory's value is made once (the defaults of value objects are
    values)."""
    default: Any = field.default
    if isinstance(default, _FACTORY):
        factory: Any = default
        return _NO_DEFAULT if factory.takes_self else factory.factory()
    return _NO_DEFAULT if default is attrs.NOTHING else default
