"""SaveErpCredentials: validate and store the merchant's Client ID, Client Secret and invite link."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from kanglu.application.commands import SaveErpCredentials as Command
from kanglu.application.errors import InvalidInput
from kanglu.application.ports import Clock, SecretBox, UnitOfWorkFactory
from kanglu.domain.connections import ErpConnection
from kanglu.domain.errors import InvalidTransition

TINY_HOSTS = ("tiny.com.br", "olist.com")
_PRINTABLE_TOKEN = re.compile(r"^[\x21-\x7e]+$")
# Tiny's Client IDs read `tiny-api-<40 hex>-<unix time>`. Only the prefix is required: it tells
# a Client ID from the secret, the app's name or a stray word (which Tiny would answer with
# "Client not found" on its own page, stranding the merchant there), and leaves room for
# Tiny to change the tail. Published as is in the OpenAPI document (ECMA and Python agree).
CLIENT_ID_SHAPE = "tiny-api-[0-9A-Za-z-]+"
CLIENT_ID_MAX = 200


def validate_client_id(client_id: str) -> str | None:
    """The Portuguese reason the Client ID is refused, or None."""
    if not client_id:
        return "informe o Client ID"
    if len(client_id) > CLIENT_ID_MAX or not _PRINTABLE_TOKEN.match(client_id):
        return "o Client ID tem caracteres inválidos ou é longo demais"
    if not re.fullmatch(CLIENT_ID_SHAPE, client_id):
        return (
            "este não é um Client ID do Tiny, que sempre começa com tiny-api-. "
            "Copie-o do aplicativo que você criou no Tiny, em Configurações → Aplicativos"
        )
    return None


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == base or host.endswith("." + base) for base in allowed)


def validate_invite_link(link: str, extra_host: str | None) -> str | None:
    """The Portuguese reason the link is refused, or None. A Tiny link is https on a Tiny
    host; any URL on the configured auth server's host is accepted too (the sandbox)."""
    link = link.strip()
    if not link:
        return "informe o Link de Convite"
    if len(link) > 2000:
        return "o Link de Convite é longo demais"
    try:
        parts = urlsplit(link)
        host = parts.hostname or ""
    except ValueError:
        return "o Link de Convite não é uma URL válida"
    if parts.scheme not in ("http", "https") or not host:
        return "o Link de Convite deve ser uma URL completa, começando com https://"
    if extra_host and host.lower() == extra_host.lower():
        return None
    if parts.scheme != "https":
        return "o Link de Convite deve usar https://"
    if not host_allowed(host, TINY_HOSTS):
        return "o Link de Convite deve ser um endereço do Tiny (tiny.com.br ou olist.com)"
    return None


class SaveErpCredentials:
    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, secret_box: SecretBox, auth_host: str | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._box = secret_box
        self._auth_host = auth_host

    def __call__(self, command: Command) -> ErpConnection:
        errors: dict[str, str] = {}
        client_id = command.client_id.strip() if isinstance(command.client_id, str) else ""
        client_id_error = validate_client_id(client_id)
        if client_id_error:
            errors["client_id"] = client_id_error
        secret = command.client_secret
        if secret is not None:
            if not secret.value.strip():
                secret = None
            elif len(secret.value) > 500 or not _PRINTABLE_TOKEN.match(secret.value.strip()):
                errors["client_secret"] = "o Client Secret tem caracteres inválidos ou é longo demais"
        link_error = validate_invite_link(command.invite_link or "", self._auth_host)
        if link_error:
            errors["invite_link"] = link_error
        with self._uow() as uow:
            connection = uow.connections.for_merchant(command.merchant_id)
            if secret is None and (connection is None or connection.client_secret is None):
                errors.setdefault("client_secret", "informe o Client Secret")
            if errors:
                raise InvalidInput(errors)
            now = self._clock.now()
            if connection is None:
                connection = ErpConnection(merchant_id=command.merchant_id, updated_at=now)
                uow.connections.add(connection)
            sealed = self._box.seal(type(secret)(secret.value.strip())) if secret is not None else None
            try:
                connection.configure(client_id, sealed, command.invite_link.strip(), now)
            except InvalidTransition as exc:
                raise InvalidInput({"client_secret": exc.message}) from None
            uow.commit()
            return connection
