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
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _canonical(value: object) -> object:
    """`value` as plain JSON data, the same for equal values whatever their fields' order."""
    cls = type(value)
    if cls is str or value is None:  # most leaves
        return value
    convert = _CONVERTERS.get(cls)
    if convert is None:  # once per class: every poll computes this for each listed order
        convert = _CONVERTERS[cls] = _converter_for(cls)
    return convert(value)


_Converter = Callable[[Any], object]
_CONVERTERS: dict[type, _Converter] = {}  # a race only builds the same converter twice
_NO_DEFAULT = object()
_FACTORY: type = type(attrs.Factory(list))  # attrs.Factory is typed as a function


def _converter_for(cls: type) -> _Converter:
    if attrs.has(cls):
        return _attrs_converter(tuple((f.name, _default_of(f)) for f in attrs.fields(cls)))
    if issubclass(cls, enum.Enum):  # before int and str: IntEnum and StrEnum are both
        return lambda value: _canonical(value.value)
    if issubclass(cls, Decimal):
        return str
    if issubclass(cls, date):  # datetime included
        return lambda value: value.isoformat()
    if issubclass(cls, (tuple, list)):
        return lambda value: [_canonical(item) for item in value]
    if issubclass(cls, dict):
        return lambda value: {str(key): _canonical(item) for key, item in value.items()}
    if cls is type(None) or issubclass(cls, (str, int)):  # bool included
        return lambda value: value
    raise TypeError(f"no canonical form for {cls.__name__}")


def _attrs_converter(fields: tuple[tuple[str, Any], ...]) -> _Converter:
    """An attrs instance as a dict of its fields, each left out while it holds its default.

    Every poll computes this for each order it lists, so the common leaves (text, None, whole
    numbers) are kept inline rather than sent through `_canonical` one call each."""

    def convert(value: Any) -> object:
        found = {}
        for name, default in fields:
            item = getattr(value, name)
            if default is not _NO_DEFAULT and type(item) is type(default) and item == default:
                continue
            cls = type(item)
            found[name] = item if cls is str or item is None or cls is int or cls is bool else _canonical(item)
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
