"""Tiny's JSON into the wire types, with cattrs: lenient hooks for its quirks, errors in Portuguese.

Tiny sends `""` for null, numbers as strings and `[]` for an empty object: the hooks absorb
these, and the domain's value objects validate what must be valid. A failure is either the
payload's (BaseValidationError, InvalidValue: described to the merchant) or a bug of ours
(ConversionBug: logged loudly), never confused.
"""

import logging
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import BaseValidationError, ClassValidationError, IterableValidationError
from cattrs.gen import AttributeOverride, make_dict_structure_fn, override

from kanglu.adapters.tiny.wire import TinyDate
from kanglu.domain.errors import InvalidValue
from kanglu.domain.situacoes import Situacao, parse_situacao

log = logging.getLogger(__name__)

T = TypeVar("T")


class WrongShape(ValueError):
    """A value of the wrong JSON type for its field (a list where a text was expected...)."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object, _: object = None) -> str | None:
    if is_empty(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise WrongShape("texto")


def _whole(value: object, _: object = None) -> int | None:
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise WrongShape("número inteiro")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
        return int(value)
    raise WrongShape("número inteiro")


def _identifier(value: object, _: object = None) -> int:
    number = _whole(value)
    if number is None or number <= 0:
        raise WrongShape("identificador numérico")
    return number


def _situacao(value: object, _: object = None) -> Situacao:
    if is_empty(value):
        raise InvalidValue("situação ausente")
    if isinstance(value, bool | Decimal) or not isinstance(value, int | str):
        raise InvalidValue(f"situação desconhecida: {_short(value)}")
    return parse_situacao(value.strip() if isinstance(value, str) else value)


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S")


def parse_tiny_date(value: object, _: object = None) -> date | datetime | None:
    """`YYYY-MM-DD` -> date, `YYYY-MM-DD HH:MM:SS` -> naive São Paulo datetime, `""` -> None.

    A text that is no date at all is taken as missing: a date only decorates the order and is
    no reason to refuse it. A date that is not even a text is a malformed payload.
    """
    if is_empty(value):
        return None
    if not isinstance(value, str):
        raise WrongShape("data em texto")
    text = value.strip()
    if text.startswith("0000-00-00"):
        return None
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    return None


def _optional_class(converter: cattrs.Converter, cls: type) -> Callable[[object, object], object]:
    def hook(value: object, _: object = None) -> object:
        # PHP encodes an empty object as [], and Tiny sends "" for a missing one too.
        if is_empty(value) or value == []:
            return None
        if not isinstance(value, Mapping):
            raise WrongShape("objeto")
        return converter.structure(value, cls)

    return hook


def _optional_attrs_class(t: object) -> type | None:
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(t) if a is not type(None)]
    return args[0] if len(args) == 1 and len(typing.get_args(t)) == 2 and attrs.has(args[0]) else None


def _camel_case_hook(
    converter: cattrs.Converter, cls: type[attrs.AttrsInstance]
) -> Callable[[Mapping[str, Any], Any], Any]:
    """The structure hook of a wire class, each attribute read from its camelCase key."""
    renames: dict[str, AttributeOverride] = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
    # The options are spelt out (as the converter's own) so that the renames alone fill **kwargs.
    return make_dict_structure_fn(
        cls, converter, _cattrs_forbid_extra_keys="from_converter", _cattrs_use_linecache=True,
        _cattrs_prefer_attrib_converters="from_converter", _cattrs_detailed_validation="from_converter",
        _cattrs_use_alias="from_converter", _cattrs_include_init_false=False, **renames,
    )


def _equal_to(expected: object) -> Callable[[object], bool]:
    return lambda candidate: candidate == expected


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=True)
    # Later registrations win: the generic attrs rule first, the precise ones after it.
    converter.register_structure_hook_factory(attrs.has, lambda cls: _camel_case_hook(converter, cls))
    converter.register_structure_hook_factory(
        lambda t: _optional_attrs_class(t) is not None,
        lambda t: _optional_class(converter, _optional_attrs_class(t)),  # type: ignore[arg-type]
    )
    exact: dict[object, Callable[[object, object], object]] = {
        str | None: _text,
        int | None: _whole,
        int: _identifier,
        Situacao: _situacao,
        TinyDate: parse_tiny_date,
    }
    for t, hook in exact.items():
        if isinstance(t, type):
            converter.register_structure_hook(t, hook)  # classes dispatch by type, ahead of predicates
        else:
            converter.register_structure_hook_func(_equal_to(t), hook)
    return converter


_converter = _make_converter()


class ConversionBug(Exception):
    """Structuring failed for a reason that is not the payload's fault."""


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def _format_pt(exc: BaseException, _type: object) -> str:
    if isinstance(exc, InvalidValue):
        return exc.message
    if isinstance(exc, KeyError):
        return "campo obrigatório ausente"
    if isinstance(exc, WrongShape):
        return f"tipo inesperado (esperado {exc.expected})"
    return "valor em formato inesperado"


def describe(exc: BaseValidationError) -> str:
    """One Portuguese sentence for every problem cattrs found, each with Tiny's field name."""
    messages = []
    for line in cattrs.transform_error(exc, path="", format_exception=_format_pt):
        message, _, path = line.rpartition(" @ ")
        field = ".".join(camel(part) for part in path.lstrip(".").split("."))
        messages.append(f"{message} (campo {field})" if field else message)
    return "; ".join(dict.fromkeys(messages))


def structure(payload: object, cls: type[T]) -> T:
    """The payload as a wire class. Raises BaseValidationError (or InvalidValue) for bad data,
    ConversionBug for anything else, so a bug is never taken for Tiny's fault."""
    if not isinstance(payload, Mapping):
        raise InvalidValue("o item não é um objeto JSON")
    try:
        return _converter.structure(payload, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        unexpected = [e for e in leaves(exc) if not isinstance(e, InvalidValue | WrongShape | KeyError)]
        if unexpected:
            raise ConversionBug(f"{cls.__name__}: {unexpected[0]!r}") from unexpected[0]
        raise


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def lenient_id(value: object) -> int | None:
    try:
        return _identifier(value)
    except WrongShape:
        return None


def whole_or_none(value: object) -> int | None:
    try:
        return _whole(value)
    except WrongShape:
        return None


def structure_or_none(raw: object, cls: type[T], message: str) -> T | None:
    """The wire object, or None (logged) for data that cannot be read: used for records that
    only support an order (notas, formas de envio), where one bad record must not stop the rest."""
    raw_id = lenient_id(raw.get("id")) if isinstance(raw, Mapping) else None
    try:
        return structure(raw, cls)
    except (BaseValidationError, InvalidValue) as exc:
        reason = describe(exc) if isinstance(exc, BaseValidationError) else exc.message
        log.warning(message, extra={"record_id": raw_id, "reason": reason})
    except Exception:
        log.exception(message + " (conversion bug)", extra={"record_id": raw_id})
    return None
