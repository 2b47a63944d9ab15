"""ErpCredentials: the one home of the rules for Tiny's Client ID, Client Secret and invite link.

The use case builds one (and so applies every rule); the page, the API body check and the
OpenAPI document read their limits and patterns from here, so they cannot disagree."""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit

import attrs

from kanglu.domain.errors import InvalidValue
from kanglu.domain.secrets import Secret

_PATH = "(/[!-~]*)?"
_PORT = "(:[0-9]{1,5})?"


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """`host` is one of `allowed` or a subdomain of one (never a lookalike: tiny.com.br.evil.com)."""
    host = host.lower().rstrip(".")
    return any(host == base or host.endswith("." + base) for base in allowed)


class InvalidCredentials(InvalidValue):
    """Some fields are refused: `field_errors` maps each to a Portuguese reason."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        super().__init__("; ".join(field_errors.values()))
        self.field_errors = field_errors


@attrs.frozen(repr=False)
class ErpCredentials:
    """What a merchant types to let the Kanglu reach their Tiny account, already trimmed and checked.

    `client_secret` None means "keep the one already saved" (a stored secret is never shown back,
    so the form leaves it blank); whether one is saved is the use case's question."""

    client_id: str
    client_secret: Secret | None
    invite_link: str

    CLIENT_ID_MAX: ClassVar[int] = 200
    CLIENT_SECRET_MAX: ClassVar[int] = 500
    INVITE_LINK_MAX: ClassVar[int] = 2000
    # Tiny's Client IDs read `tiny-api-<40 hex>-<unix time>`. Only the prefix is required: it tells
    # a Client ID from the secret, the app's name or a stray word (which Tiny would answer with
    # "Client not found" on its own page, stranding the merchant there), and leaves room for
    # Tiny to change the tail. Published as is in the OpenAPI document (ECMA and Python agree).
    CLIENT_ID_SHAPE: ClassVar[str] = "tiny-api-[0-9A-Za-z-]+"
    # Printable ASCII without blanks: what Tiny's client ids and secrets are made of.
    TOKEN: ClassVar[str] = "[!-~]+"
    TINY_HOSTS: ClassVar[tuple[str, ...]] = ("tiny.com.br", "olist.com")

    def __repr__(self) -> str:
        return f"ErpCredentials(client_id={self.client_id!r}, invite_link={self.invite_link!r})"

    @classmethod
    def parse(
        cls, *, client_id: str, client_secret: Secret | None, invite_link: str, auth_host: str | None
    ) -> ErpCredentials:
        """Trimmed and checked credentials, or InvalidCredentials naming every refused field.
        `auth_host` is the host of the configured authorisation server (the sandbox's, in tests
        and demos): any link on it is accepted too. A blank secret means "keep the saved one"."""
        client_id = client_id.strip()
        secret = client_secret.value.strip() if client_secret is not None else ""
        invite_link = invite_link.strip()
        errors = {
            field: reason
            for field, reason in (
                ("client_id", cls.client_id_problem(client_id)),
                ("client_secret", cls.client_secret_problem(secret) if secret else None),
                ("invite_link", cls.invite_link_problem(invite_link, auth_host)),
            )
            if reason is not None
        }
        if errors:
            raise InvalidCredentials(errors)
        return cls(client_id, Secret(secret) if secret else None, invite_link)

    @classmethod
    def client_id_problem(cls, client_id: str) -> str | None:
        """The Portuguese reason a (trimmed) Client ID is refused, or None."""
        if not client_id:
            return "informe o Client ID"
        if len(client_id) > cls.CLIENT_ID_MAX or not re.fullmatch(cls.TOKEN, client_id):
            return "o Client ID tem caracteres inválidos ou é longo demais"
        if not re.fullmatch(cls.CLIENT_ID_SHAPE, client_id):
            return (
                "este não é um Client ID do Tiny, que sempre começa com tiny-api-. "
                "Copie-o do aplicativo que você criou no Tiny, em Configurações → Aplicativos"
            )
        return None

    @classmethod
    def client_secret_problem(cls, secret: str) -> str | None:
        """The Portuguese reason a (trimmed, non-blank) Client Secret is refused, or None."""
        if len(secret) > cls.CLIENT_SECRET_MAX or not re.fullmatch(cls.TOKEN, secret):
            return "o Client Secret tem caracteres inválidos ou é longo demais"
        return None

    @classmethod
    def invite_link_problem(cls, link: str, auth_host: str | None) -> str | None:
        """The Portuguese reason a (trimmed) link is refused, or None. A Tiny link is https on a
        Tiny host; any http(s) URL on the configured auth server's host is accepted too."""
        if not link:
            return "informe o Link de Convite"
        if len(link) > cls.INVITE_LINK_MAX:
            return "o Link de Convite é longo demais"
        try:
            parts = urlsplit(link)
            host = parts.hostname or ""
        except ValueError:
            return "o Link de Convite não é uma URL válida"
        if parts.scheme not in ("http", "https") or not host:
            return "o Link de Convite deve ser uma URL completa, começando com https://"
        if auth_host and host.lower() == auth_host.lower():
            return None
        if parts.scheme != "https":
            return "o Link de Convite deve usar https://"
        if not host_allowed(host, cls.TINY_HOSTS):
            return "o Link de Convite deve ser um endereço do Tiny (tiny.com.br ou olist.com)"
        return None

    @classmethod
    def invite_link_patterns(cls, auth_host: str | None) -> tuple[str, ...]:
        """Regular expressions (valid in Python and ECMA, to be matched whole) for the links the
        API publishes: https on a Tiny host, or http(s) on the auth server's host. A little
        stricter than `invite_link_problem` (no user info, printable ASCII path), so that
        whatever the document accepts, `parse` accepts too."""
        hosts = "|".join(re.escape(h) for h in cls.TINY_HOSTS)
        tiny = rf"https://([A-Za-z0-9-]+\.)*({hosts}){_PORT}{_PATH}"
        if not auth_host:
            return (tiny,)
        return (tiny, rf"https?://{re.escape(auth_host.lower())}{_PORT}{_PATH}")
