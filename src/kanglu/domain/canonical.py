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
    for key in value:
        if type(key) is not str:
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
        return _attrs_writer(cls)
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


def _attrs_writer(cls: type) -> _Writer:
    """A writer generated for one attrs class, as attrs generates its __repr__: an object of
    its fields in name order, each left out while it holds its default.

    Generated rather than looping over the fields: every poll writes this for each order it
    lists, and a loop (a getattr, a tuple unpacked, a default compared and a list appended per
    field) cost ~40 % more than the same steps written out once per class."""
    namespace: dict[str, Any] = {"quoted": _quoted, "text": _text, "writer": _WRITERS.get}
    reads, pieces = [], []
    for i, (name, default) in enumerate(sorted((f.name, _default_of(f)) for f in attrs.fields(cls))):
        item = f"v{i}"
        reads.append(f"    {item} = value.{name}\n")
        # Text and None, the common leaves, without a call; the rest by its type's writer.
        leaf = f"quoted({item}) if type({item}) is str else writer(type({item}), text)({item})"
        if default is None:
            present: str | None = f"{item} is not None"
        else:
            leaf = f"'null' if {item} is None else {leaf}"
            present = None
            if default is not _NO_DEFAULT:
                namespace[f"default{i}"], namespace[f"type{i}"] = default, type(default)
                present = f"type({item}) is not type{i} or {item} != default{i}"
        # Each field written with a leading comma, and the object's first comma dropped below.
        piece = f"{',' + _quoted(name) + ':'!r} + ({leaf})"
        pieces.append(f"        {piece},\n" if present is None else f"        {piece} if {present} else '',\n")
    source = (
        "def write(value):\n" + "".join(reads) + "    fields = ''.join((\n" + "".join(pieces) + "    ))\n"
        "    return '{' + fields[1:] + '}'\n"
    )
    # The source holds only the class's field names (identifiers: attrs itself generates code
    # with them) and literals; the defaults are passed in `namespace`.
    filename = f"<canonical writer of {cls.__module__}.{cls.__qualname__}>"
    exec(compile(source, filename, "exec"), namespace)  # nosec B102: field names and literals, no input
    write: _Writer = namespace["write"]
    return write


def _default_of(field: attrs.Attribute[Any]) -> Any:
    """The field's default; a factory's value is made once (the defaults of value objects are
    values)."""
    default: Any = field.default
    if isinstance(default, _FACTORY):
        factory: Any = default
        return _NO_DEFAULT if factory.takes_self else factory.factory()
    return _NO_DEFAULT if default is attrs.NOTHING else default
