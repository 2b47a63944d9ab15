"""Canonical JSON of domain values: the text a stored fingerprint hashes, the same for equal
values whatever the order of their fields (see domain/orders.py for the fingerprint).

The text is exactly `json.dumps(value, sort_keys=True, separators=(",", ":"))` of the value as
plain data (attrs classes as objects of their fields, Decimal and dates as strings, enums as
their values), but written directly: every poll computes it for each order it lists, and
building the plain data first (a dict per attrs instance) cost twice the old repr() hash."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quoted
from typing import Any

import attrs


def canonical_json(value: object) -> str:
    """The canonical text of `value` (attrs classes, enums, Decimal, dates, sequences, dicts
    with text keys, plain JSON values): keys sorted, compact, ASCII (the rest escaped), attrs
    fields at their default left out. Equal values give equal text whatever the order of their
    fields."""
    return _text(value)


_Writer = Callable[[Any], str]


def _text(value: object) -> str:
    cls = type(value)
    write = _WRITERS.get(cls)
    if write is None:  # once per class; a race only builds the same writer twice
        write = _WRITERS[cls] = _writer_for(cls)
    return write(value)


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"no canonical form for {value!r}")
    return float.__repr__(value)


def _sequence(value: Any) -> str:
    return "[" + ",".join([_text(item) for item in value]) + "]"


def _mapping(value: dict[Any, Any]) -> str:
    if not all(type(key) is str for key in value):
        raise TypeError("no canonical form for a dict whose keys are not all text")
    return "{" + ",".join([_quoted(key) + ":" + _text(value[key]) for key in sorted(value)]) + "}"


_WRITERS: dict[type, _Writer] = {
    str: _quoted,
    type(None): lambda value: "null",
    bool: lambda value: "true" if value else "false",
    int: int.__repr__,
    float: _number,
    list: _sequence,
    tuple: _sequence,
    dict: _mapping,
}
_NO_DEFAULT = object()
_FACTORY: type = type(attrs.Factory(list))  # attrs.Factory is typed as a function


def _writer_for(cls: type) -> _Writer:
    if attrs.has(cls):
        fields = sorted((f.name, _default_of(f)) for f in attrs.fields(cls))
        return _attrs_writer(tuple((_quoted(name) + ":", name, default) for name, default in fields))
    if issubclass(cls, enum.Enum):  # before str and int: json writes StrEnum and IntEnum as values
        if issubclass(cls, str):
            return _quoted
        if issubclass(cls, int):
            return int.__repr__
        return lambda value: _text(value.value)
    if issubclass(cls, Decimal):
        return lambda value: _quoted(str(value))
    if issubclass(cls, date):  # datetime included
        return lambda value: _quoted(value.isoformat())
    for plain in (bool, str, int, float, list, tuple, dict):
        if issubclass(cls, plain):
            return _WRITERS[plain]
    raise TypeError(f"no canonical form for {cls.__name__}")


def _attrs_writer(fields: tuple[tuple[str, str, Any], ...]) -> _Writer:
    """An attrs instance as an object of its fields in name order, each left out while it
    holds its default."""

    def write(value: Any) -> str:
        parts = []
        for key, name, default in fields:
            item = getattr(value, name)
            if default is _NO_DEFAULT or type(item) is not type(default) or item != default:
                # The common leaves inline: a call less for most fields.
                parts.append(key + (_quoted(item) if type(item) is str else "null" if item is None else _text(item)))
        return "{" + ",".join(parts) + "}"

    return write


def _default_of(field: attrs.Attribute[Any]) -> Any:
    """The field's default; a factory's value is made once (the defaults of value objects are
    values)."""
    default: Any = field.default
    if isinstance(default, _FACTORY):
        factory: Any = default
        return _NO_DEFAULT if factory.takes_self else factory.factory()
    return _NO_DEFAULT if default is attrs.NOTHING else default
