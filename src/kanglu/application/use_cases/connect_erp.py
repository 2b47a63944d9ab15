"""ConnectErp: send the merchant to the ERP's consent page, then complete the authorisation.

*Begin* builds the authorize URL with a signed, single-use, expiring `state` and a PKCE S256
challenge. *Complete* works from the `state` alone (the browser that comes back may hold no
session): it checks the state, exchanges the code, stores the tokens sealed, reads the account
name and makes the first poll due at once. Any failure leaves the connection as it was.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from kanglu.application import journal
from kanglu.application.commands import BeginConnectErpCommand, CompleteConnectErpCommand
from kanglu.application.errors import (
    ApplicationError,
    AuthorizationFailed,
    PermissionMissing,
    ReauthorizationRequired,
    TransientFailure,
)
from kanglu.application.ports import (
    Clock,
    ErpGateway,
    OAuthClient,
    OAuthProvider,
    OAuthState,
    SecretBox,
    StateSigner,
    TokenGrant,
    UnitOfWorkFactory,
)
from kanglu.application.tokens import FixedTokens, seal_grant
from kanglu.domain.connections import ErpConnection
from kanglu.domain.errors import InvalidTransition
from kanglu.domain.jobs import JobKind
from kanglu.domain.pkce import new_verifier, s256_challenge
from kanglu.domain.secrets import Secret

log = logging.getLogger(__name__)

STATE_MAX_AGE = timedelta(minutes=10)


class ConnectErp:
    """The two steps of one authorisation: `begin` (to the consent page) and `complete` (back
    from it). One class, because both share the signer, the secret box and the redirect URI."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        secret_box: SecretBox,
        signer: StateSigner,
        oauth: OAuthProvider,
        gateway: ErpGateway,
        redirect_uri: str,
        renewal_margin: timedelta,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._box = secret_box
        self._signer = signer
        self._oauth = oauth
        self._gateway = gateway
        self._redirect_uri = redirect_uri
        self._margin = renewal_margin

    def begin(self, command: BeginConnectErpCommand) -> str:
        """The URL of the ERP's consent page."""
        with self._uow() as uow:
            connection = uow.connections.for_merchant(command.merchant_id)
            if connection is None or not connection.is_configured:
                raise ApplicationError("salve o Client ID, o Client Secret e o Link de Convite antes de conectar")
            assert connection.id is not None and connection.client_id is not None
            nonce = secrets.token_urlsafe(24)
            verifier = new_verifier()
            try:
                connection.begin_authorization(nonce, self._box.seal(Secret(verifier)), self._clock.now())
            except InvalidTransition as exc:
                raise ApplicationError(exc.message) from None
            uow.commit()
            state = self._signer.sign(OAuthState(connection_id=connection.id, nonce=nonce))
            return self._oauth.authorize_url(connection.client_id, self._redirect_uri, state, s256_challenge(verifier))

    def complete(self, command: CompleteConnectErpCommand) -> ErpConnection:
        """The connected connection; AuthorizationFailed with a Portuguese message otherwise."""
        if not command.state:
            raise AuthorizationFailed("A resposta do Tiny não trouxe o parâmetro state. Tente conectar de novo.", "invalid_state")
        state = self._signer.verify(command.state, STATE_MAX_AGE)
        if command.error:
            # Consent refused (or any OAuth error): the state is spent, nothing else changes.
            self._spend_state(state)
            if command.error == "access_denied":
                raise AuthorizationFailed("A autorização foi negada no Tiny. Nada foi alterado.", "access_denied")
            raise AuthorizationFailed(
                f"O Tiny recusou a autorização ({command.error[:60]}). Tente conectar de novo.", "oauth_error"
            )
        if not command.code:
            raise AuthorizationFailed("A resposta do Tiny não trouxe o código de autorização.", "missing_code")
        return self._connect(state, command.code)

    def _connect(self, state: OAuthState, code: str) -> ErpConnection:
        with self._uow() as uow:
            connection = uow.connections.lock(state.connection_id)
            if connection is None:
                raise AuthorizationFailed("Esta autorização não corresponde a nenhuma integração.", "invalid_state")
            connection_id = connection.id
            assert connection_id is not None
            try:
                verifier = connection.consume_authorization(state.nonce)
            except InvalidTransition:
                raise AuthorizationFailed(
                    "Este link de autorização já foi usado ou foi substituído por outro. Clique em Conectar de novo.",
                    "replayed_state",
                ) from None
            uow.commit()  # the state is spent even if the exchange fails below
            client = self._client(connection)
            grant = self._exchange(client, code, self._box.open(verifier).value, connection_id)
            account_name = self._account_name(grant, connection_id)
            now = self._clock.now()
            connection.complete_authorization(seal_grant(self._box, grant, now),
                                              account_name if isinstance(account_name, str) else None, now)
            journal.connected(uow, connection, now)
            if isinstance(account_name, PermissionMissing):  # connected all the same; the card says what to tick
                before = {p.value for p in connection.missing_permissions}
                connection.note_permission_missing(account_name.permission, None, now)
                journal.permissions_changed(uow, connection, before, {p.value for p in connection.missing_permissions}, now)
            uow.jobs.schedule(JobKind.POLL, connection_id, now)
            due = connection.renewal_due_at(self._margin)
            assert due is not None
            uow.jobs.schedule(JobKind.RENEW_TOKEN, connection_id, due)
            uow.commit()
            log.info("erp connected", extra={"connection_id": connection_id})
            return connection

    def _client(self, connection: ErpConnection) -> OAuthClient:
        assert connection.client_id is not None and connection.client_secret is not None
        return OAuthClient(connection.client_id, self._box.open(connection.client_secret))

    def _exchange(self, client: OAuthClient, code: str, verifier: str, connection_id: int | None) -> TokenGrant:
        try:
            return self._oauth.exchange_code(client, code, self._redirect_uri, verifier)
        except ReauthorizationRequired as exc:
            log.warning("code exchange refused", extra={"connection_id": connection_id, "reason": exc.error_code})
            raise AuthorizationFailed(
                "O Tiny recusou a troca do código de autorização. Confira o Client ID, o Client Secret e a "
                "URL de Redirecionamento cadastrada no aplicativo, e clique em Conectar de novo.",
                "exchange_refused",
            ) from None
        except TransientFailure as exc:
            log.warning("code exchange failed", extra={"connection_id": connection_id, "reason": exc.message})
            raise AuthorizationFailed(
                "Não foi possível falar com o Tiny para concluir a autorização. Tente conectar de novo em instantes.",
                "exchange_failed",
            ) from None

    def _account_name(self, grant: TokenGrant, connection_id: int | None) -> str | PermissionMissing | None:
        # The name only decorates the card: a failure here must not undo a good authorisation.
        try:
            return self._gateway.account_name(FixedTokens(grant.access_token, key=f"connection:{connection_id}"))
        except PermissionMissing as exc:
            log.warning("account info not permitted", extra={"connection_id": connection_id})
            return exc
        except ApplicationError as exc:
            log.warning("account info unavailable", extra={"connection_id": connection_id, "reason": exc.message})
            return None

    def _spend_state(self, state: OAuthState) -> None:
        with self._uow() as uow:
            connection = uow.connections.lock(state.connection_id)
            if connection is None:
                return
            try:
                connection.consume_authorization(state.nonce)
            except InvalidTransition:
                return
            uow.commit()

