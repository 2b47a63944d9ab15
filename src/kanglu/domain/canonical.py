"""Canonical JSON of domain values: the text a stored fingerprint hashes, the same for equal
values whatever the order of their fields (see domain/orders.py for the fingerprint)."""

from __future__ import annotations

import enum
import json
from datetime import date
from decimal import Decimal
from typing import Any

import attrs


def canonical_json(value: object) -> str:
    """The canonical text of `value` (attrs classes, enums, Decimal, dates, sequences, dicts
    with text keys, plain JSON values): keys sorted, compact, attrs fields at their default
    left out. Equal values give equal text whatever the order of their fields."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _canonical(value: object) -> object:
    """`value` as plain JSON data, the same for equal values whatever their fields' order."""
    cls = type(value)
    if attrs.has(cls):
        return {
            field.name: _canonical(getattr(value, field.name))
            for field in attrs.fields(cls)
            if not _holds_default(field, getattr(value, field.name))
        }
    if isinstance(value, enum.Enum):  # before int and str: IntEnum and StrEnum are both
        return _canonical(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if value is None or isinstance(value, (str, int)):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")


_FACTORY: type = type(attrs.Factory(list))  # attrs.Factory is typed as a function


def _holds_default(field: attrs.Attribute[Any], value: object) -> bool:
    default: Any = field.default
    if isinstance(default, _FACTORY):
        factory: Any = default
        if factory.takes_self:
            return False
        default = factory.factory()
    return default is not attrs.NOTHING and type(value) is type(default) and bool(value == default)

