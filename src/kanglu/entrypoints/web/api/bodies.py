"""What the JSON API accepts: request bodies structured by a strict cattrs converter, and the
limits the OpenAPI document publishes, kept here once so both say the same thing."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, get_origin
from urllib.parse import urlsplit

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from kanglu.domain.erp_credentials import ErpCredentials
from kanglu.domain.situacoes import Action, Situacao

T = TypeVar("T")

# A body is refused with at most this many field errors: a megabyte of wrong items costs
# milliseconds and a short answer, not seconds and megabytes.
MAX_ERRORS = 50
# No list the API takes needs more items (the mappings list one per situação).
MAX_ITEMS = 1000


def anchored(*branches: str) -> str:
    """A JSON Schema (ECMA) pattern matching the whole text against one of `branches`."""
    return "|".join(f"^{b}$" for b in branches)


def full_match(branches: tuple[str, ...], text: str) -> bool:
    """What `anchored(*branches)` means, in Python: fullmatch, because Python's `$` also
    matches before a trailing newline."""
    return any(re.fullmatch(b, text) for b in branches)


class BodyError(Exception):
    """The body does not fit the document: `field_errors` maps a path to a Portuguese message."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        super().__init__("invalid body")
        self.field_errors = field_errors


@attrs.frozen
class CredentialsBody:
    client_id: str
    invite_link: str
    client_secret: str | None = None  # write-only; absent or null keeps the saved one


@attrs.frozen
class MappingBody:
    situacao: Situacao
    action: Action


@attrs.frozen
class MappingsBody:
    mappings: list[MappingBody]
    import_point_of_sale: bool | None = None  # absent: unchanged


@attrs.frozen
class NotificationsBody:
    email: bool = True
    webhook_url: str | None = None


@attrs.frozen
class CarrierMappingBody:
    shipping_service: str
    carrier: str


@attrs.frozen
class CarrierMappingsBody:
    mappings: list[CarrierMappingBody]


WEBHOOK_URL_MAX = 2000
# What the document promises to accept; valid_webhook_url accepts every URL that matches it.
WEBHOOK_URL_PATTERN = r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"
SHIPPING_SERVICE_MAX = 500


def allowed_values(values: Any) -> str:
    """"use a, b ou c": what an enum error says, so the caller need not open the document."""
    listed = [str(v) for v in values]
    return "use " + (", ".join(listed[:-1]) + " ou " + listed[-1] if len(listed) > 1 else listed[0])


def valid_webhook_url(url: str) -> bool:
    """An absolute https URL with a host, printable ASCII, no user info (the signature is the
    credential; a password in the URL would be shown back on every GET)."""
    if re.fullmatch(WEBHOOK_URL_PATTERN.removeprefix("^").removesuffix("$"), url) is None:
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true ou false esperado")
    return value


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError("texto esperado")
    return value


def _situacao(value: Any, _: type) -> Situacao:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("número inteiro esperado")
    if value not in {int(s) for s in Situacao}:
        raise ValueError(allowed_values(sorted(int(s) for s in Situacao)))
    return Situacao(value)


def _action(value: Any, _: type) -> Action:
    if not isinstance(value, str):
        raise TypeError("texto esperado")
    if value not in {a.value for a in Action}:
        raise ValueError(allowed_values(a.value for a in Action))
    return Action(value)


def _is_list_type(type_: Any) -> bool:
    origin: object = get_origin(type_)
    return origin is list


def make_converter() -> cattrs.Converter:
    """cattrs' defaults are lenient (str(123) is "123", a dict iterates as a list of its keys):
    these hooks accept exactly the JSON types the document names."""
    converter = cattrs.Converter(detailed_validation=True)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(Situacao, _situacao)
    converter.register_structure_hook(Action, _action)

    def list_hook(list_type: Any) -> Any:
        (elem_type,) = list_type.__args__

        def structure(value: Any, _: type) -> list[Any]:
            if not isinstance(value, list):
                raise TypeError("lista esperada")
            if len(value) > MAX_ITEMS:
                raise ValueError(f"lista com mais de {MAX_ITEMS} itens")
            handler = converter.get_structure_hook(elem_type)
            result, errors = [], []
            for index, item in enumerate(value):
                try:
                    result.append(handler(item, elem_type))
                except Exception as exc:  # noqa: BLE001 - cattrs' way: every failure is reported
                    note = IterableValidationNote(f"Structuring {list_type} @ index {index}", index, elem_type)
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                    errors.append(exc)
                    if len(errors) >= MAX_ERRORS:
                        break  # the first ones say enough; the rest is not even looked at
            if errors:
                raise IterableValidationError(f"While structuring {list_type!r}", errors, list_type)
            return result

        return structure

    def class_hook(cls: type) -> Any:
        base: Callable[[Mapping[str, Any], Any], Any] = make_dict_structure_fn(cls, converter)

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, dict):
                raise TypeError("objeto JSON esperado")
            return base(value, cls)

        return structure

    converter.register_structure_hook_factory(_is_list_type, list_hook)
    converter.register_structure_hook_factory(attrs.has, class_hook)
    return converter


CONVERTER = make_converter()


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "campo obrigatório"
    if isinstance(exc, ForbiddenExtraKeysError):
        return "campos desconhecidos"
    if isinstance(exc, ValueError):
        if exc.args and isinstance(exc.args[0], str) and exc.args[0].startswith("lista com mais"):
            return exc.args[0]
        if exc.args and isinstance(exc.args[0], str) and exc.args[0].startswith("use "):
            return f"valor fora dos permitidos: {exc.args[0]}"
        return "valor fora dos permitidos"
    if isinstance(exc, TypeError) and exc.args and isinstance(exc.args[0], str) and exc.args[0].endswith(("esperado", "esperada")):  # noqa: E501
        return exc.args[0]
    return "valor inválido"


def _walk(exc: BaseException, path: str, out: dict[str, str]) -> None:
    if len(out) >= MAX_ERRORS:
        return
    if isinstance(exc, ClassValidationError):
        with_notes, others = exc.group_exceptions()
        for sub, note in with_notes:
            _walk(sub, f"{path}.{note.name}" if path else note.name, out)
        for sub in others:
            _walk(sub, path, out)
    elif isinstance(exc, IterableValidationError):
        with_indexes, rest = exc.group_exceptions()
        for sub, index_note in with_indexes:
            _walk(sub, f"{path}[{index_note.index}]", out)
        for sub in rest:
            _walk(sub, path, out)
    else:
        out.setdefault(path or "body", _message(exc))


def structure(data: Any, cls: type[T]) -> T:
    """The body as `cls`, or BodyError with a message per field."""
    try:
        return CONVERTER.structure(data, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        errors: dict[str, str] = {}
        _walk(exc, "", errors)
        raise BodyError(errors) from None
    except (TypeError, ValueError, KeyError) as exc:
        raise BodyError({"body": _message(exc)}) from None


def check_credentials(body: CredentialsBody, auth_host: str | None) -> None:
    """What the document publishes (ErpCredentials' limits and patterns, matched as is: no
    trimming), so that no body the document refuses is accepted; the use case then builds
    the ErpCredentials, which applies every rule."""
    rules = ErpCredentials
    errors: dict[str, str] = {}
    if len(body.client_id) > rules.CLIENT_ID_MAX or not full_match((rules.TOKEN,), body.client_id):
        errors["client_id"] = f"o Client ID tem de 1 a {rules.CLIENT_ID_MAX} caracteres visíveis, sem espaços"
    secret = body.client_secret
    if secret is not None and (len(secret) > rules.CLIENT_SECRET_MAX or not full_match((rules.TOKEN,), secret)):
        errors["client_secret"] = (
            f"o Client Secret tem de 1 a {rules.CLIENT_SECRET_MAX} caracteres visíveis, sem espaços"
        )
    link = body.invite_link
    if len(link) > rules.INVITE_LINK_MAX or not full_match(rules.invite_link_patterns(auth_host), link):
        errors["invite_link"] = (
            "o Link de Convite deve ser um endereço https do Tiny (tiny.com.br ou olist.com), como o painel do Tiny mostra"
        )
    if errors:
        raise BodyError(errors)
