"""RefreshToken: renew a connection's tokens when due, one renewal at a time per connection.

Only a definite refusal disconnects: Tiny answering `invalid_grant` or `invalid_client` for the
stored refresh token (or that token dead by its own expiry). A timeout, a 5xx, a 429, a dropped
connection or a database error leaves the connection connected and the stored refresh token in
place; the renewal is retried with backoff and changes nothing visible while the access token
is still valid.

Tokens Tiny issued are never dropped: the old refresh token is spent the moment Tiny answers,
so the answer is written down first (TokenJournal, for a worker that dies before storing it),
a failed write of the new pair is retried, then kept in memory (TokenKeeper) and written by the
next renewal of that connection instead of asking Tiny again with the spent token. A claim
committed on the connection before the call keeps other processes from sending the refresh
token meanwhile. The result's outcome is the seam for recording renewal events.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from kanglu.application import journal
from kanglu.application.commands import RefreshTokenCommand as Command
from kanglu.application.errors import ReauthorizationRequired, TransientFailure
from kanglu.application.ports import (
    Clock,
    NoTokenJournal,
    OAuthClient,
    OAuthProvider,
    PendingGrant,
    SecretBox,
    TokenJournal,
    UnitOfWork,
    UnitOfWorkFactory,
)
from kanglu.application.tokens import RenewalOutcome, RenewalResult, TokenKeeper, seal_grant
from kanglu.domain.connections import ConnectionStatus, ErpConnection
from kanglu.domain.secrets import Secret

__all__ = ["RefreshToken", "RenewalOutcome", "RenewalResult", "backoff"]

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=15)
FIRST_BACKOFF = timedelta(seconds=30)
# Pauses between tries to store tokens Tiny just issued (about 15 s in all), before they are
# kept in memory for the next renewal of the connection to store.
WRITE_RETRY_DELAYS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# A renewal whose tokens could not be stored yet is tried again this soon.
PENDING_RETRY = timedelta(seconds=5)
# How long a renewal's claim keeps other processes off the refresh token: the token call's
# timeout plus the write's retries, with room to spare. The container sets it from settings.
DEFAULT_CLAIM_SPAN = timedelta(seconds=60 + 30)
# A renewal that finds another one under way looks again this soon (or when the claim ends).
CLAIMED_RETRY = timedelta(seconds=10)
CLAIMED_ELSEWHERE = "outra renovação do acesso está em andamento"
# A renewal forced by a 401 waits this long for one under way elsewhere (then retries later).
CLAIM_WAIT_INTERVAL = 0.2
CLAIM_WAITS = 150  # 30 s


def backoff(failures: int, now: datetime, rng: random.Random | None = None) -> datetime:
    """Exponential, capped, with full jitter on the upper half so retries spread out. `rng`
    draws the jitter (a seeded one makes the retry time reproducible)."""
    ceiling = min(FIRST_BACKOFF * (2 ** max(failures - 1, 0)), MAX_BACKOFF)
    jitter: float = rng.random() if rng is not None else random.random()
    half: timedelta = ceiling / 2
    return now + half + half * jitter


class RefreshToken:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        secret_box: SecretBox,
        oauth: OAuthProvider,
        renewal_margin: timedelta,
        keeper: TokenKeeper | None = None,
        sleep: Callable[[float], None] = time.sleep,
        write_retry_delays: Sequence[float] = WRITE_RETRY_DELAYS,
        claim_span: timedelta = DEFAULT_CLAIM_SPAN,
        claim_waits: int = CLAIM_WAITS,
        journal: TokenJournal | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._box = secret_box
        self._oauth = oauth
        self._margin = renewal_margin
        self._keeper = keeper or TokenKeeper()
        self._sleep = sleep
        self._write_delays = tuple(write_retry_delays)
        self._claim_span = claim_span
        self._claim_waits = claim_waits
        self._journal = journal or NoTokenJournal()
        self._rng = rng or random.Random()

    def __call__(self, command: Command) -> RenewalResult:
        if not self._keeper.begin():
            return RenewalResult(RenewalOutcome.RETRY, self._clock.now() + PENDING_RETRY,
                                 "a Kanglu está reiniciando", PENDING_RETRY.total_seconds())
        try:
            pending = self._keeper.pending(command.connection_id)
            if pending is not None:
                return self._store_pending(pending)
            return self._renew(command)
        finally:
            self._keeper.end()

    def _renew(self, command: Command) -> RenewalResult:
        claim = uuid.uuid4().hex[:16]
        started = self._claim(command, claim)
        if isinstance(started, RenewalResult):
            return started
        seen_version, client, refresh_token = started
        # No transaction is open during the call: the claim keeps other renewals off, and
        # nothing waits on a database lock while Tiny answers (up to the token timeout).
        try:
            grant = self._oauth.refresh(client, refresh_token)
        except ReauthorizationRequired as exc:
            return self._refused(command.connection_id, seen_version, exc)
        except TransientFailure as exc:
            return self._failed(command.connection_id, claim, exc)
        # The old refresh token is spent at Tiny from here on: these tokens must reach the database.
        pending = PendingGrant(command.connection_id, seen_version, grant, self._clock.now())
        self._write_down(pending)
        result = self._store_pending(pending, first=True)
        if result.outcome is RenewalOutcome.RETRY:
            return self._store_with_retries(pending)
        return result

    def _claim(self, command: Command, claim: str) -> RenewalResult | tuple[int, OAuthClient, Secret]:
        """Claim the renewal on the connection (committed), or say why there is none. A renewal
        forced by a 401 that finds another one under way waits for it, then reads its tokens:
        a 401 seen by several processes at once costs one refresh."""
        for attempt in range(self._claim_waits + 1):
            with self._uow() as uow:
                connection = uow.connections.lock(command.connection_id)
                early = self._no_renewal(uow, connection, command, claim)
                if early is None:
                    assert connection is not None and connection.refresh_token is not None
                    seen_version = connection.token_version
                    client, refresh_token = self._client(connection), self._box.open(connection.refresh_token)
                    connection.claim_renewal(claim, self._clock.now() + self._claim_span)
                    uow.commit()
                    return seen_version, client, refresh_token
            if not (command.force and early.reason == CLAIMED_ELSEWHERE) or attempt == self._claim_waits:
                return early
            if self._keeper.closed:
                return early  # the process is stopping: waiting for another's renewal would only delay it
            self._sleep(CLAIM_WAIT_INTERVAL)
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused(self, connection_id: int, seen_version: int, exc: ReauthorizationRequired) -> RenewalResult:
        """Tiny refused this very refresh token for good (invalid_grant, invalid_client): the
        one case that disconnects."""
        reason = exc.message  # a plain reason: the page adds what to do
        with self._uow() as uow:
            connection = uow.connections.lock(connection_id)
            if connection is None or connection.status is not ConnectionStatus.CONNECTED:
                return RenewalResult(RenewalOutcome.SKIPPED, None, "a integração não está conectada")
            if connection.token_version != seen_version:
                # Tokens stored meanwhile (a claim that expired under a very slow call): the
                # refusal was of a token no longer stored.
                return RenewalResult(RenewalOutcome.NOT_DUE, connection.renewal_due_at(self._margin))
            now = self._clock.now()
            connection.mark_disconnected(reason, now)
            journal.disconnected(uow, connection, reason, now)
            uow.commit()
        log.warning("renewal refused, connection disconnected",
                    extra={"connection_id": connection_id, "error": exc.error_code})
        return RenewalResult(RenewalOutcome.DISCONNECTED, None, reason)

    def _failed(self, connection_id: int, claim: str, exc: TransientFailure) -> RenewalResult:
        """Nothing was issued: the stored refresh token is still the live one. Retried later."""
        now = self._clock.now()
        failures = 1
        refresh_expires_at = None
        try:
            with self._uow() as uow:
                connection = uow.connections.lock(connection_id)
                if connection is not None:
                    failures = connection.refresh_failures + 1
                    refresh_expires_at = connection.refresh_expires_at
                    if connection.renewal_claimed_by == claim:
                        connection.release_renewal()
                    if connection.status is ConnectionStatus.CONNECTED:
                        if connection.access_token_valid(now):
                            connection.refresh_failures = failures  # status and message untouched
                        else:
                            connection.note_refresh_failure(exc.message, now)
                        journal.renewal_failed(uow, connection, exc.message, now)
                    uow.commit()
        except Exception:  # noqa: BLE001 - the count is a courtesy (the claim expires by itself)
            log.warning("could not record a failed renewal", extra={"connection_id": connection_id}, exc_info=True)
        retry_at = backoff(failures, now, self._rng)
        if exc.retry_after:
            retry_at = max(retry_at, now + timedelta(seconds=exc.retry_after))
        if refresh_expires_at is not None:
            # Never wait past the refresh token's death: one last try just before it.
            retry_at = min(retry_at, max(now, refresh_expires_at - timedelta(seconds=30)))
        log.warning(
            "renewal failed, will retry",
            extra={"connection_id": connection_id, "reason": exc.message, "request_id": exc.request_id,
                   "retry_at": retry_at.isoformat()},
        )
        return RenewalResult(RenewalOutcome.RETRY, retry_at, exc.message, (retry_at - now).total_seconds())

    def _no_renewal(
        self, uow: UnitOfWork, connection: ErpConnection | None, command: Command, claim: str
    ) -> RenewalResult | None:
        """Why this renewal does not call Tiny, or None when it should."""
        if connection is None or connection.status is not ConnectionStatus.CONNECTED:
            return RenewalResult(RenewalOutcome.SKIPPED, None, "a integração não está conectada")
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
        if connection.renewal_claimed_elsewhere(claim, now):
            # Another process is renewing, or holds tokens the database has not taken yet.
            assert connection.renewal_claimed_until is not None
            retry_at = min(connection.renewal_claimed_until, now + CLAIMED_RETRY)
            log.debug("renewal under way elsewhere", extra={"connection_id": connection.id})
            return RenewalResult(RenewalOutcome.RETRY, retry_at, CLAIMED_ELSEWHERE,
                                 max((retry_at - now).total_seconds(), 1.0))
        return None

    # -- tokens issued but not stored ---------------------------------------------------------

    def recover(self) -> int:
        """At start-up: store the tokens a worker on this machine got from Tiny and never stored
        (it died between the token call and the write). Returns how many entries it found."""
        found = self._journal.pending()
        for pending in found:
            if self._keeper.pending(pending.connection_id) is None:
                result = self._store_pending(pending)
                log.warning("interrupted renewal recovered from the token journal",
                            extra={"connection_id": pending.connection_id, "outcome": result.outcome.value})
        return len(found)

    def _write_down(self, pending: PendingGrant) -> None:
        try:
            self._journal.record(pending)
        except Exception:  # noqa: BLE001 - the database write comes next and usually works
            log.exception("could not write the token journal", extra={"connection_id": pending.connection_id})

    def _cross_out(self, pending: PendingGrant) -> None:
        try:
            self._journal.remove(pending)
        except Exception:  # noqa: BLE001 - a stale entry is dropped by the version check at recovery
            log.warning("could not clear the token journal", extra={"connection_id": pending.connection_id},
                        exc_info=True)

    def _store_with_retries(self, pending: PendingGrant) -> RenewalResult:
        """The first write failed: try again for a while (the database is usually back within
        seconds), then keep the tokens for the next renewal of this connection."""
        self._keeper.keep(pending)
        for delay in self._write_delays:
            self._sleep(delay)
            result = self._store_pending(pending)
            if result.outcome is not RenewalOutcome.RETRY:
                return result
        return self._still_pending(pending)

    def _store_pending(self, pending: PendingGrant, first: bool = False) -> RenewalResult:
        """Write tokens Tiny issued earlier, unless the connection moved on meanwhile."""
        try:
            with self._uow() as uow:
                connection = uow.connections.lock(pending.connection_id)
                now = self._clock.now()
                if (
                    connection is None
                    or connection.status is not ConnectionStatus.CONNECTED
                    or connection.token_version != pending.seen_token_version
                ):
                    # Disconnected by the merchant, reauthorised, or renewed by somebody else
                    # (only possible if Tiny let a second renewal through): these are stale.
                    self._keeper.forget(pending)
                    self._cross_out(pending)
                    log.warning("kept tokens dropped: the connection changed meanwhile",
                                extra={"connection_id": pending.connection_id})
                    if connection is None or connection.status is not ConnectionStatus.CONNECTED:
                        return RenewalResult(RenewalOutcome.SKIPPED, None, "a integração não está conectada")
                    return RenewalResult(RenewalOutcome.NOT_DUE, connection.renewal_due_at(self._margin))
                connection.mark_refreshed(seal_grant(self._box, pending.grant, pending.obtained_at), now)
                journal.renewed(uow, connection, now)
                uow.commit()
        except Exception:  # noqa: BLE001 - kept for the next try
            log.warning("renewed tokens not stored, retrying" if first else "renewed tokens still not stored",
                        extra={"connection_id": pending.connection_id}, exc_info=True)
            return self._still_pending(pending)
        self._keeper.forget(pending)
        self._cross_out(pending)
        log.info("token renewed" if first else "token renewed (stored after a retry)",
                 extra={"connection_id": pending.connection_id})
        return RenewalResult(RenewalOutcome.RENEWED, self._next_renewal(connection, now))

    def _still_pending(self, pending: PendingGrant) -> RenewalResult:
        self._keeper.keep(pending)
        now = self._clock.now()
        return RenewalResult(
            RenewalOutcome.RETRY, now + PENDING_RETRY,
            "o banco de dados não gravou o acesso renovado; nova tentativa em instantes",
            PENDING_RETRY.total_seconds(),
        )

    # -- helpers ----------------------------------------------------------------------------

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
