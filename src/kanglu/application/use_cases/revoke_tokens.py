"""RevokeTokens: tell Tiny to revoke the refresh tokens of disconnected connections.

Best effort: the tokens were already forgotten here when the merchant disconnected, so a
revocation that never gets through only leaves them valid at Tiny until they expire (a day
or so). Retried with backoff for as long as that matters, then given up, each outcome logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import attrs

from kanglu.application.errors import ReauthorizationRequired, TransientFailure
from kanglu.application.ports import Clock, OAuthClient, OAuthProvider, SecretBox, UnitOfWorkFactory
from kanglu.application.use_cases.refresh_token import backoff
from kanglu.domain.revocations import GAVE_UP, REVOKED, TokenRevocation

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
# Tiny's refresh tokens live about a day: past that, there is nothing left to revoke.
GIVE_UP_AFTER = timedelta(days=2)


@attrs.frozen
class RevocationReport:
    revoked: int = 0
    failed: int = 0
    gave_up: int = 0


class RevokeTokens:
    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, secret_box: SecretBox, oauth: OAuthProvider, limit: int = 20
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._box = secret_box
        self._oauth = oauth
        self._limit = limit

    def __call__(self, owner: str) -> RevocationReport:
        with self._uow() as uow:
            claimed = uow.revocations.claim(owner, self._clock.now(), LEASE, self._limit)
            uow.commit()
        revoked = failed = gave_up = 0
        for revocation in claimed:
            outcome = self._one(revocation, owner)
            revoked += outcome == REVOKED
            gave_up += outcome == GAVE_UP
            failed += outcome is None
        return RevocationReport(revoked, failed, gave_up)

    def _one(self, revocation: TokenRevocation, owner: str) -> str | None:
        assert revocation.id is not None
        context = {"connection_id": revocation.connection_id, "revocation_id": revocation.id}
        outcome: str | None = None
        error: str | None = None
        try:
            if revocation.refresh_token is None or revocation.client_secret is None:
                raise ReauthorizationRequired("nada a revogar", "nothing_to_revoke")
            client = OAuthClient(revocation.client_id, self._box.open(revocation.client_secret))
            self._oauth.revoke(client, self._box.open(revocation.refresh_token))
            outcome = REVOKED
            log.info("refresh token revoked at the erp", extra=context)
        except ReauthorizationRequired as exc:
            # Tiny refuses the client itself (a secret changed since): no retry will do better.
            outcome, error = GAVE_UP, exc.message
            log.warning("token revocation refused by the erp, given up", extra={**context, "reason": exc.message})
        except Exception as exc:  # noqa: BLE001 - best effort: whatever failed is retried later
            error = exc.message if isinstance(exc, TransientFailure) else f"{type(exc).__name__}: {exc}"
            log.warning("token revocation failed, will retry", extra={**context, "reason": error},
                        exc_info=not isinstance(exc, TransientFailure))
        now = self._clock.now()
        next_attempt = backoff(min(revocation.attempts + 1, 12), now)  # 12: the cap is reached by then
        if outcome is None and next_attempt - revocation.created_at > GIVE_UP_AFTER:
            outcome = GAVE_UP
            log.warning("token revocation given up: the token has expired at the erp by now", extra=context)
        with self._uow() as uow:
            uow.revocations.finish(
                revocation.id, owner, outcome=outcome, error=(error or None) and error[:500],
                next_attempt_at=None if outcome else next_attempt, now=now,
            )
            uow.commit()
        return outcome
