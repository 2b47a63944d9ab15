"""SaveErpCredentials: store the merchant's Client ID, Client Secret and invite link, once
`ErpCredentials` (the domain's one home for their rules) accepts them."""

from __future__ import annotations

from kanglu.application.commands import SaveErpCredentialsCommand as Command
from kanglu.application.errors import InvalidInput
from kanglu.application.ports import Clock, SecretBox, UnitOfWorkFactory
from kanglu.domain.connections import ErpConnection
from kanglu.domain.erp_credentials import ErpCredentials, InvalidCredentials
from kanglu.domain.errors import InvalidTransition


class SaveErpCredentials:
    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, secret_box: SecretBox, auth_host: str | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._box = secret_box
        self._auth_host = auth_host

    def __call__(self, command: Command) -> ErpConnection:
        credentials: ErpCredentials | None = None
        errors: dict[str, str] = {}
        try:
            credentials = ErpCredentials.parse(
                client_id=command.client_id if isinstance(command.client_id, str) else "",
                client_secret=command.client_secret,
                invite_link=command.invite_link or "",
                auth_host=self._auth_host,
            )
        except InvalidCredentials as exc:
            errors = dict(exc.field_errors)
        secret_given = command.client_secret is not None and bool(command.client_secret.value.strip())
        with self._uow() as uow:
            connection = uow.connections.for_merchant(command.merchant_id)
            if not secret_given and (connection is None or connection.client_secret is None):
                errors.setdefault("client_secret", "informe o Client Secret")
            if errors or credentials is None:
                raise InvalidInput(errors)
            now = self._clock.now()
            if connection is None:
                connection = ErpConnection(merchant_id=command.merchant_id, updated_at=now)
                uow.connections.add(connection)
            secret = credentials.client_secret
            sealed = self._box.seal(secret) if secret is not None else None
            try:
                connection.configure(credentials.client_id, sealed, credentials.invite_link, now)
            except InvalidTransition as exc:
                raise InvalidInput({"client_secret": exc.message}) from None
            uow.commit()
            return connection
