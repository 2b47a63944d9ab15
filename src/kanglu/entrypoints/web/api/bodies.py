"""What the JSON API accepts: request bodies structured by a strict cattrs converter, and the
limits the OpenAPI document publishes, kept here once so both say the same thing."""

from __future__ import annotations

import re
from typing import Any, TypeVar, get_origin

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

from kanglu.domain.situacoes import Action, Situacao

T = TypeVar("T")

CLIENT_ID_MAX = 200
CLIENT_SECRET_MAX = 500
INVITE_LINK_MAX = 2000
# Printable ASCII without blanks: what Tiny's client ids and secrets are made of.
TOKEN = "[!-~]+"
_PATH = "(/[!-~]*)?"
_PORT = "(:[0-9]{1,5})?"


def anchored(*branches: str) -> str:
    """A JSON Schema (ECMA) pattern matching the whole text against one of `branches`."""
    return "|".join(f"^{b}$" for b in branches)


def full_match(branches: tuple[str, ...], text: str) -> bool:
    """What `anchored(*branches)` means, in Python: fullmatch, because Python's `$` also
    matches before a trailing newline."""
    return any(re.fullmatch(b, text) for b in branches)


def invite_link_branches(auth_host: str | None) -> tuple[str, ...]:
    """An https URL on a Tiny host, or any http(s) URL on the configured auth server's host
    (the sandbox). A little stricter than the use case (no user info, printable ASCII path),
    so that whatever the document accepts, the use case accepts too."""
    tiny = rf"https://([A-Za-z0-9-]+\.)*(tiny\.com\.br|olist\.com){_PORT}{_PATH}"
    if not auth_host:
        return (tiny,)
    return (tiny, rf"https?://{re.escape(auth_host.lower())}{_PORT}{_PATH}")


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


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError("texto esperado")
    return value


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true ou false esperado")
    return value


def _situacao(value: Any, _: type) -> Situacao:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("número inteiro esperado")
    return Situacao(value)


def _action(value: Any, _: type) -> Action:
    if not isinstance(value, str):
        raise TypeError("texto esperado")
    return Action(value)


def make_converter() -> cattrs.Converter:
    """cattrs' defaults are lenient (str(123) is "123", a dict iterates as a list of its keys):
    these hooks accept exactly the JSON types the document names."""
    converter = cattrs.Converter(detailed_validation=True)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(Situacao, _situacao)
    converter.register_structure_hook(Action, _action)

    def list_hook(list_type: Any) -> Any:
        base = list_structure_factory(list_type, converter)

        def structure(value: Any, _: type) -> list[Any]:
            if not isinstance(value, list):
                raise TypeError("lista esperada")
            return base(value, list_type)  # type: ignore[no-any-return]

        return structure

    def class_hook(cls: type) -> Any:
        base = make_dict_structure_fn(cls, converter)

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, dict):
                raise TypeError("objeto JSON esperado")
            return base(value, cls)

        return structure

    converter.register_structure_hook_factory(lambda t: get_origin(t) is list, list_hook)
    converter.register_structure_hook_factory(attrs.has, class_hook)
    return converter


CONVERTER = make_converter()


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "campo obrigatório"
    if isinstance(exc, ForbiddenExtraKeysError):
        return "campos desconhecidos"
    if isinstance(exc, ValueError):
        return "valor fora dos permitidos"
    if isinstance(exc, TypeError) and exc.args and isinstance(exc.args[0], str) and exc.args[0].endswith(("esperado", "esperada")):
        return exc.args[0]
    return "valor inválido"


def _walk(exc: BaseException, path: str, out: dict[str, str]) -> None:
    if isinstance(exc, ClassValidationError):
        with_notes, others = exc.group_exceptions()
        for sub, note in with_notes:
            _walk(sub, f"{path}.{note.name}" if path else note.name, out)
        for sub in others:
            _walk(sub, path, out)
    elif isinstance(exc, IterableValidationError):
        with_notes, others = exc.group_exceptions()
        for sub, note in with_notes:
            _walk(sub, f"{path}[{note.index}]", out)
        for sub in others:
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
    """The limits of the document; the use case then applies the business rules."""
    errors: dict[str, str] = {}
    if len(body.client_id) > CLIENT_ID_MAX or not full_match((TOKEN,), body.client_id):
        errors["client_id"] = f"o Client ID tem de 1 a {CLIENT_ID_MAX} caracteres visíveis, sem espaços"
    secret = body.client_secret
    if secret is not None and (len(secret) > CLIENT_SECRET_MAX or not full_match((TOKEN,), secret)):
        errors["client_secret"] = f"o Client Secret tem de 1 a {CLIENT_SECRET_MAX} caracteres visíveis, sem espaços"
    link = body.invite_link
    if len(link) > INVITE_LINK_MAX or not full_match(invite_link_branches(auth_host), link):
        errors["invite_link"] = (
            "o Link de Convite deve ser um endereço https do Tiny (tiny.com.br ou olist.com), como o painel do Tiny mostra"
        )
    if errors:
        raise BodyError(errors)

