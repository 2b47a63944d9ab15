"""Token sources: how a gateway call gets an access token, and a fresh one after a 401."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from kanglu.application.errors import ReauthorizationRequired
from kanglu.application.ports import SecretBox, TokenGrant, UnitOfWorkFactory
from kanglu.domain.connections import SealedTokens
from kanglu.domain.secrets import Secret


def seal_grant(box: SecretBox, grant: TokenGrant, now: datetime) -> SealedTokens:
    return SealedTokens(
        access_token=box.seal(grant.access_token),
        refresh_token=box.seal(grant.refresh_token),
        access_expires_at=now + timedelta(seconds=grant.expires_in),
        refresh_expires_at=(now + timedelta(seconds=grant.refresh_expires_in)) if grant.refresh_expires_in else None,
    )


class FixedTokens:
    """A token just obtained (right after the code exchange); nothing to renew it with."""

    def __init__(self, token: Secret, key: str = "new-authorization") -> None:
        self._token = token
        self.key = key

    def access_token(self) -> Secret:
        return self._token

    def renew(self) -> Secret:
        raise ReauthorizationRequired("o Tiny recusou o acesso logo após a autorização")


class ConnectionTokens:
    """The stored token of one connection. `renew` goes through RefreshToken, which holds the
    per-connection lock, so a 401 seen by several processes at once costs one refresh."""

    def __init__(
        self,
        *,
        connection_id: int,
        uow: UnitOfWorkFactory,
        secret_box: SecretBox,
        force_refresh: Callable[[int, int], None],
    ) -> None:
        self._connection_id = connection_id
        self._uow = uow
        self._box = secret_box
        self._force_refresh = force_refresh
        self._cached: tuple[Secret, int] | None = None
        self.key = f"connection:{connection_id}"
        # Every API call asks for the token once: the poll's history counts its calls here.
        self.calls = 0

    def preload(self, token: Secret, version: int) -> None:
        """The caller already read the connection: save a query."""
        self._cached = (token, version)

    def access_token(self) -> Secret:
        self.calls += 1
        if self._cached is None:
            self._cached = self._load()
        return self._cached[0]

    def renew(self) -> Secret:
        seen_version = self._cached[1] if self._cached else -1
        self._force_refresh(self._connection_id, seen_version)
        self._cached = self._load()
        return self._cached[0]

    def _load(self) -> tuple[Secret, int]:
        with self._uow() as uow:
            connection = uow.connections.get(self._connection_id)
            if connection is None or connection.access_token is None:
                raise ReauthorizationRequired("a integração não tem mais um acesso válido ao Tiny")
            return self._box.open(connection.access_token), connection.token_version
