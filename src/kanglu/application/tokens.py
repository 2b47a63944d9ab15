"""Token sources: how a gateway call gets an access token, and a fresh one after a 401.

Also what one process keeps about renewals (TokenKeeper): tokens Tiny issued that the
database has not taken yet, and the renewals under way, which a stopping worker waits for.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from kanglu.application.commands import RefreshTokenCommand
from kanglu.application.errors import ReauthorizationRequired, TransientFailure
from kanglu.application.ports import PendingGrant, SecretBox, TokenGrant, UnitOfWorkFactory
from kanglu.domain.connections import SealedTokens
from kanglu.domain.secrets import Secret


def seal_grant(box: SecretBox, grant: TokenGrant, now: datetime) -> SealedTokens:
    return SealedTokens(
        access_token=box.seal(grant.access_token),
        refresh_token=box.seal(grant.refresh_token),
        access_expires_at=now + timedelta(seconds=grant.expires_in),
        refresh_expires_at=(now + timedelta(seconds=grant.refresh_expires_in)) if grant.refresh_expires_in else None,
    )


class RenewalOutcome(enum.StrEnum):
    RENEWED = "renewed"
    NOT_DUE = "not_due"  # somebody renewed first, or it was never due
    RETRY = "retry"  # a transient failure (timeout, 5xx, 429, network, database): nothing was lost
    DISCONNECTED = "disconnected"  # a definite refusal (invalid_grant, invalid_client) or a dead token
    SKIPPED = "skipped"  # not connected


@attrs.frozen
class RenewalResult:
    """What a renewal did. `reason` (Portuguese) says why for RETRY and DISCONNECTED;
    `retry_after` is the seconds until the next try for RETRY."""

    outcome: RenewalOutcome
    next_due_at: datetime | None
    reason: str | None = None
    retry_after: float | None = None


class TokenKeeper:
    """One per process, shared by every renewal: tokens issued but not yet stored (kept until
    a write succeeds), and a count of renewals under way (a stopping worker waits for them,
    since a renewal abandoned after Tiny answered loses the rotated refresh token)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._pending: dict[int, PendingGrant] = {}
        self._running = 0
        self._closed = False

    # -- tokens not yet stored ------------------------------------------------------------

    def keep(self, pending: PendingGrant) -> None:
        with self._lock:
            self._pending[pending.connection_id] = pending

    def pending(self, connection_id: int) -> PendingGrant | None:
        with self._lock:
            return self._pending.get(connection_id)

    def forget(self, pending: PendingGrant) -> None:
        with self._lock:
            if self._pending.get(pending.connection_id) is pending:
                del self._pending[pending.connection_id]

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- renewals under way ---------------------------------------------------------------

    def begin(self) -> bool:
        """A renewal starts (True), or is refused because the process is stopping (`close`):
        a renewal begun then might be cut off after Tiny answered."""
        with self._lock:
            if self._closed:
                return False
            self._running += 1
            return True

    def end(self) -> None:
        with self._lock:
            self._running -= 1
            self._lock.notify_all()

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def close(self) -> None:
        """No new renewal from now on (the worker is stopping)."""
        with self._lock:
            self._closed = True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no renewal is under way (True) or `timeout` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True


class FixedTokens:
    """A token just obtained (right after the code exchange); nothing to renew it with."""

    def __init__(self, token: Secret, key: str = "new-authorization") -> None:
        self._token = token
        self.key = key

    def access_token(self) -> Secret:
        return self._token

    def renew(self) -> Secret:
        raise ReauthorizationRequired("o Tiny recusou o acesso logo após a autorização")


RENEWAL_RETRY_MESSAGE = "não foi possível renovar o acesso ao Tiny agora ({reason}); a integração continua conectada e a sincronização será tentada de novo"


class ConnectionTokens:
    """The stored token of one connection. `renew` goes through RefreshToken, which claims the
    renewal on the connection, so a 401 seen by several processes at once costs one refresh.

    Only a renewal Tiny refused for good ends in ReauthorizationRequired; one that failed for a
    while (timeout, 5xx, 429, network, database) is a TransientFailure, so the caller retries
    later with the same stored refresh token, never the spent old access token."""

    def __init__(
        self,
        *,
        connection_id: int,
        uow: UnitOfWorkFactory,
        secret_box: SecretBox,
        force_refresh: Callable[[int, int], RenewalResult],
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
        result = self._force_refresh(self._connection_id, seen_version)
        if result.outcome is RenewalOutcome.RETRY:
            raise TransientFailure(RENEWAL_RETRY_MESSAGE.format(reason=result.reason or "falha temporária"),
                                   retry_after=result.retry_after)
        if result.outcome in (RenewalOutcome.DISCONNECTED, RenewalOutcome.SKIPPED):
            raise ReauthorizationRequired(result.reason or "a integração não está mais conectada ao Tiny",
                                          "renewal_refused")
        loaded = self._load()
        if loaded[1] == seen_version:
            # NOT_DUE for a forced renewal means somebody renewed: the same version again would
            # be the token Tiny just refused. Try again later rather than reuse it.
            raise TransientFailure(RENEWAL_RETRY_MESSAGE.format(reason="o token ainda não foi renovado"))
        self._cached = loaded
        return loaded[0]

    def _load(self) -> tuple[Secret, int]:
        with self._uow() as uow:
            connection = uow.connections.get(self._connection_id)
            if connection is None or connection.access_token is None:
                raise ReauthorizationRequired("a integração não tem mais um acesso válido ao Tiny")
            return self._box.open(connection.access_token), connection.token_version


class TokensByConnection:
    """`tokens_for(connection_id)` of the poll and the retry of an import: each connection's
    stored token, renewed through RefreshToken (forced, past the version seen) after a 401."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        secret_box: SecretBox,
        refresh: Callable[[RefreshTokenCommand], RenewalResult],
    ) -> None:
        self._uow = uow
        self._box = secret_box
        self._refresh = refresh

    def __call__(self, connection_id: int) -> ConnectionTokens:
        return ConnectionTokens(
            connection_id=connection_id, uow=self._uow, secret_box=self._box, force_refresh=self._force_refresh
        )

    def _force_refresh(self, connection_id: int, seen_version: int) -> RenewalResult:
        return self._refresh(RefreshTokenCommand(connection_id, force=True, seen_token_version=seen_version))
