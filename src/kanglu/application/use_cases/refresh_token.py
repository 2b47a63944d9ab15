"""RefreshToken: renew a connection's tokens when due, one renewal at a time per connection.

A definite refusal marks the connection disconnected with the reason; a transient failure is
retried with backoff and changes nothing while the access token is still valid.
"""

from __future__ import annotations

import enum
import logging
import random
from datetime import datetime, timedelta

import attrs

from kanglu.application.commands import RefreshToken as Command
from kanglu.application import journal
from kanglu.application.errors import ReauthorizationRequired, TransientFailure
from kanglu.application.ports import Clock, OAuthClient, OAuthProvider, SecretBox, UnitOfWorkFactory
from kanglu.application.tokens import seal_grant
from kanglu.domain.connections import ConnectionStatus, ErpConnection

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=15)
FIRST_BACKOFF = timedelta(seconds=30)


class RenewalOutcome(enum.StrEnum):
    RENEWED = "renewed"
    NOT_DUE = "not_due"  # somebody renewed first, or it was never due
    RETRY = "retry"
    DISCONNECTED = "disconnected"
    SKIPPED = "skipped"  # not connected


@attrs.frozen
class RenewalResult:
    outcome: RenewalOutcome
    next_due_at: datetime | None
    reason: str | None = None


def backoff(failures: int, now: datetime) -> datetime:
    """Exponential, capped, with full jitter on the upper half so retries spread out."""
    ceiling = min(FIRST_BACKOFF * (2 ** max(failures - 1, 0)), MAX_BACKOFF)
    return now + ceiling / 2 + (ceiling / 2) * random.random()


class RefreshTokenUseCase:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        secret_box: SecretBox,
        oauth: OAuthProvider,
        renewal_margin: timedelta,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._box = secret_box
        self._oauth = oauth
        self._margin = renewal_margin

    def __call__(self, command: Command) -> RenewalResult:
        with self._uow() as uow:
            # Held until commit: a second renewal of this connection, in any process, waits
            # here and then reads the tokens this one stored.
            connection = uow.connections.lock(command.connection_id)
            if connection is None or connection.status is not ConnectionStatus.CONNECTED:
                return RenewalResult(RenewalOutcome.SKIPPED, None)
            now = self._clock.now()
            if command.force:
                if command.seen_token_version is not None and connection.token_version != command.seen_token_version:
                    return RenewalResult(RenewalOutcome.NOT_DUE, connection.renewal_due_at(self._margin))
            elif not connection.needs_refresh(now, self._margin):
                return RenewalResult(RenewalOutcome.NOT_DUE, connection.renewal_due_at(self._margin))

            if connection.refresh_token_dead(now) or connection.refresh_token is None:
                reason = "a autorização do Tiny expirou antes de ser renovada"
                connection.mark_disconnected(reason, now)
                journal.disconnected(uow, connection, reason, now)
                uow.commit()
                log.warning("connection lost: refresh token expired", extra={"connection_id": connection.id})
                return RenewalResult(RenewalOutcome.DISCONNECTED, None, reason)

            try:
                grant = self._oauth.refresh(self._client(connection), self._box.open(connection.refresh_token))
            except ReauthorizationRequired as exc:
                reason = exc.message
                connection.mark_disconnected(reason, now)
                journal.disconnected(uow, connection, reason, now)
                uow.commit()
                log.warning(
                    "renewal refused, connection disconnected",
                    extra={"connection_id": connection.id, "error": exc.error_code},
                )
                return RenewalResult(RenewalOutcome.DISCONNECTED, None, reason)
            except TransientFailure as exc:
                return self._retry_later(uow, connection, exc, now)

            # Persisted before anyone uses the new access token: the old refresh token is
            # spent now, and losing the new one would log the merchant out.
            connection.mark_refreshed(seal_grant(self._box, grant, now), now)
            journal.renewed(uow, connection, now)
            uow.commit()
            log.info("token renewed", extra={"connection_id": connection.id})
            return RenewalResult(RenewalOutcome.RENEWED, self._next_renewal(connection, now))

    def _next_renewal(self, connection: ErpConnection, now: datetime) -> datetime | None:
        """When to renew the tokens just stored. A token that lives less than the margin is
        due again at once, and was renewed in a loop (10,000 refresh calls in one `--once`
        pass): such a token is renewed half-way through its life instead."""
        due = connection.renewal_due_at(self._margin)
        if due is None or due > now:
            return due
        ends = [e for e in (connection.access_expires_at, connection.refresh_expires_at) if e is not None]
        return now + (min(ends) - now) / 2 if ends else due

    def _client(self, connection: ErpConnection) -> OAuthClient:
        assert connection.client_id is not None and connection.client_secret is not None
        return OAuthClient(connection.client_id, self._box.open(connection.client_secret))

    def _retry_later(self, uow, connection: ErpConnection, exc: TransientFailure, now: datetime) -> RenewalResult:  # type: ignore[no-untyped-def]
        failures = connection.refresh_failures + 1
        retry_at = backoff(failures, now)
        if exc.retry_after:
            retry_at = max(retry_at, now + timedelta(seconds=exc.retry_after))
        if connection.refresh_expires_at is not None:
            # Never wait past the refresh token's death: one last try just before it.
            retry_at = min(retry_at, max(now, connection.refresh_expires_at - timedelta(seconds=30)))
        if connection.access_token_valid(now):
            connection.refresh_failures = failures  # status and message untouched
        else:
            connection.note_refresh_failure(exc.message, now)
        journal.renewal_failed(uow, connection, exc.message, now)
        uow.commit()
        log.warning(
            "renewal failed, will retry",
            extra={"connection_id": connection.id, "reason": exc.message, "request_id": exc.request_id,
                   "retry_at": retry_at.isoformat()},
        )
        return RenewalResult(RenewalOutcome.RETRY, retry_at, exc.message)
