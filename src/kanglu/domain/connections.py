"""A merchant's connection to an ERP account: credentials, OAuth state, tokens, poll cursor."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import attrs

from kanglu.domain.errors import InvalidTransition
from kanglu.domain.permissions import FILLED_IN_LATER, ErpPermission
from kanglu.domain.secrets import Sealed


class ConnectionStatus(enum.StrEnum):
    NOT_CONFIGURED = "not_configured"
    PENDING = "pending"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"

    @property
    def label(self) -> str:
        return {
            ConnectionStatus.NOT_CONFIGURED: "não configurado",
            ConnectionStatus.PENDING: "aguardando autorização",
            ConnectionStatus.CONNECTED: "conectado",
            ConnectionStatus.DISCONNECTED: "desconectado",
        }[self]


class ErrorKind(enum.StrEnum):
    """Whose problem `last_error` is: each step clears its own kind of error, and only that."""

    POLL = "poll"
    RENEWAL = "renewal"
    DISCONNECTED = "disconnected"


@attrs.frozen
class SealedTokens:
    """A token pair as stored, with the instants each one dies."""

    access_token: Sealed
    refresh_token: Sealed
    access_expires_at: datetime
    refresh_expires_at: datetime | None


@attrs.frozen
class PollProgress:
    """A poll under way: the window it reads and how far it got, so a failed poll resumes."""

    since: datetime
    started_at: datetime
    next_offset: int


@attrs.define(slots=False, eq=False)
class ErpConnection:
    """One merchant's link to one ERP account (today: Tiny).

    Secrets arrive already sealed: the entity never sees a plaintext token, so neither can a
    repr, a log line or a page built from it.
    """

    merchant_id: int
    erp: str = "tiny"
    status: ConnectionStatus = ConnectionStatus.NOT_CONFIGURED
    client_id: str | None = None
    client_secret: Sealed | None = None
    invite_link: str | None = None
    # OAuth: the nonce of the one authorisation in flight, and its PKCE verifier.
    auth_nonce: str | None = None
    auth_verifier: Sealed | None = None
    auth_started_at: datetime | None = None
    access_token: Sealed | None = None
    refresh_token: Sealed | None = None
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    # Bumped at every renewal: a caller that saw version N and got a 401 knows whether
    # somebody else already renewed.
    token_version: int = 0
    refresh_failures: int = 0
    account_name: str | None = None
    connected_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_error: str | None = None
    # Which step wrote `last_error` (None with no error, or one written before migration 0009
    # that no prefix told apart).
    error_kind: ErrorKind | None = None
    poll_cursor: datetime | None = None
    poll_since: datetime | None = None
    poll_started_at: datetime | None = None
    poll_offset: int | None = None
    updated_at: datetime | None = None
    # The alert-worthy problem the merchant was told about and that has not recovered yet
    # (an AlertKind value): "never twice", and a "recovered" alert only after a problem one.
    alert_open: str | None = None
    # The last "Sincronizar agora": at most one a minute.
    sync_requested_at: datetime | None = None
    # A renewal under way, committed before the token call: until `renewal_claimed_until`,
    # another process leaves the refresh token alone (its holder may have new tokens that the
    # database has not taken yet; sending the old one would find it spent and disconnect).
    renewal_claimed_by: str | None = None
    renewal_claimed_until: datetime | None = None
    id: int | None = None
    # Read permissions the ERP application lacks (its 403s), when they were last probed, and
    # the earliest poll window imported without one of FILLED_IN_LATER: read again once back.
    missing_permissions: frozenset[ErpPermission] = frozenset()
    permissions_checked_at: datetime | None = None
    incomplete_since: datetime | None = None
    # Point-of-sale (PDV) sales ship nothing: imported only when the merchant asks for them.
    import_point_of_sale: bool = False

    # -- credentials and authorisation ------------------------------------------------

    def configure(self, client_id: str, client_secret: Sealed | None, invite_link: str, now: datetime) -> None:
        """Save credentials. A different Client ID is a different Tiny application: its tokens
        are worthless, so the connection waits for a new authorisation."""
        if client_secret is None and self.client_secret is None:
            raise InvalidTransition("informe o Client Secret")
        app_changed = self.client_id is not None and client_id != self.client_id
        self.client_id = client_id
        if client_secret is not None:
            self.client_secret = client_secret
        self.invite_link = invite_link
        if app_changed or self.status is ConnectionStatus.NOT_CONFIGURED:
            self._drop_tokens()
            self.status = ConnectionStatus.PENDING
        self.updated_at = now

    @property
    def is_configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def begin_authorization(self, nonce: str, verifier: Sealed, now: datetime) -> None:
        if not self.is_configured:
            raise InvalidTransition("configure o Client ID e o Client Secret antes de conectar")
        self.auth_nonce = nonce
        self.auth_verifier = verifier
        self.auth_started_at = now
        self.updated_at = now

    def consume_authorization(self, nonce: str) -> Sealed:
        """Single use: the nonce of a state is accepted once, then forgotten."""
        if self.auth_nonce is None or nonce != self.auth_nonce or self.auth_verifier is None:
            raise InvalidTransition("autorização já utilizada ou substituída por outra mais recente")
        verifier = self.auth_verifier
        self.auth_nonce = None
        self.auth_verifier = None
        self.auth_started_at = None
        return verifier

    def complete_authorization(self, tokens: SealedTokens, account_name: str | None, now: datetime) -> None:
        self._take_tokens(tokens)
        self.account_name = account_name
        # A new authorisation (perhaps of an application with more permissions): what was
        # missing is probed at the next poll, and what comes back fills in what was skipped.
        self.permissions_checked_at = None
        self.status = ConnectionStatus.CONNECTED
        self.connected_at = now
        self._clear_error()
        self.refresh_failures = 0
        self.updated_at = now

    # -- tokens -----------------------------------------------------------------------

    def renewal_due_at(self, margin: timedelta) -> datetime | None:
        """When renewal must happen: before the access token expires, and in any case before
        the refresh token dies (an idle connection is lost after a day otherwise)."""
        if self.status is not ConnectionStatus.CONNECTED or self.access_expires_at is None:
            return None
        due = self.access_expires_at - margin
        if self.refresh_expires_at is not None:
            due = min(due, self.refresh_expires_at - margin)
        return due

    def needs_refresh(self, now: datetime, margin: timedelta) -> bool:
        due = self.renewal_due_at(margin)
        return due is not None and now >= due

    def refresh_token_dead(self, now: datetime) -> bool:
        return self.refresh_expires_at is not None and now >= self.refresh_expires_at

    def access_token_valid(self, now: datetime) -> bool:
        return (
            self.status is ConnectionStatus.CONNECTED
            and self.access_token is not None
            and self.access_expires_at is not None
            and now < self.access_expires_at
        )

    def renewal_claimed_elsewhere(self, claim: str, now: datetime) -> bool:
        return (
            self.renewal_claimed_by is not None
            and self.renewal_claimed_by != claim
            and self.renewal_claimed_until is not None
            and now < self.renewal_claimed_until
        )

    def claim_renewal(self, claim: str, until: datetime) -> None:
        self.renewal_claimed_by = claim
        self.renewal_claimed_until = until

    def release_renewal(self) -> None:
        self.renewal_claimed_by = None
        self.renewal_claimed_until = None

    def mark_refreshed(self, tokens: SealedTokens, now: datetime) -> None:
        if self.status is not ConnectionStatus.CONNECTED:
            raise InvalidTransition("só uma conexão ativa renova o token")
        self._take_tokens(tokens)
        self.refresh_failures = 0
        self._clear_error(ErrorKind.RENEWAL)
        self.updated_at = now

    def note_refresh_failure(self, reason: str, now: datetime) -> None:
        self.refresh_failures += 1
        self._note_error(ErrorKind.RENEWAL, f"{RENEWAL_ERROR_PREFIX}{reason}")
        self.updated_at = now

    def mark_disconnected(self, reason: str, now: datetime) -> None:
        """Tiny refused us for good, or the merchant disconnected: tokens go, the cursor stays
        so that a reconnection resumes where polling stopped."""
        self._drop_tokens()
        self.status = ConnectionStatus.DISCONNECTED
        self._note_error(ErrorKind.DISCONNECTED, reason)
        self.updated_at = now

    def _note_error(self, kind: ErrorKind, message: str) -> None:
        self.last_error, self.error_kind = message, kind

    def _clear_error(self, kind: ErrorKind | None = None) -> None:
        """Clear the error, or only an error of `kind` (another step's problem stays)."""
        if kind is None or self.error_kind is kind:
            self.last_error = self.error_kind = None

    def _take_tokens(self, tokens: SealedTokens) -> None:
        self.release_renewal()
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        self.access_expires_at = tokens.access_expires_at
        self.refresh_expires_at = tokens.refresh_expires_at
        self.token_version += 1

    def _drop_tokens(self) -> None:
        self.release_renewal()
        self.access_token = None
        self.refresh_token = None
        self.access_expires_at = None
        self.refresh_expires_at = None

    # -- polling ----------------------------------------------------------------------

    @property
    def is_pollable(self) -> bool:
        return self.status is ConnectionStatus.CONNECTED

    def poll_progress(self) -> PollProgress | None:
        if self.poll_since is None or self.poll_started_at is None or self.poll_offset is None:
            return None
        return PollProgress(self.poll_since, self.poll_started_at, self.poll_offset)

    def poll_window(self, now: datetime, overlap: timedelta, backfill: timedelta) -> PollProgress:
        """The unfinished poll to resume, else a new window from the cursor (minus an overlap,
        so a late write in the ERP is never skipped) or, the first time, from the backfill."""
        progress = self.poll_progress()
        if progress is not None:
            return progress
        since = (self.poll_cursor - overlap) if self.poll_cursor else (now - backfill)
        return PollProgress(since, now, 0)

    def poll_window_start(self, progress: PollProgress, overlap: timedelta, backfill: timedelta) -> datetime:
        """Where the window under way began (`progress.since` moves on when the ERP reads it in
        several listings): as poll_window set it, from the cursor or the backfill."""
        return (self.poll_cursor - overlap) if self.poll_cursor else (progress.started_at - backfill)

    def advance_poll(self, progress: PollProgress, next_offset: int) -> None:
        """A page was imported: remember how far this window got."""
        self.poll_since, self.poll_started_at, self.poll_offset = progress.since, progress.started_at, next_offset

    def finish_poll(self, progress: PollProgress, now: datetime) -> None:
        """The window was read to the end: the cursor moves to when the poll started."""
        self.poll_cursor = progress.started_at
        self.poll_since = self.poll_started_at = self.poll_offset = None
        self.last_sync_at = now
        self._clear_error(ErrorKind.POLL)
        self.updated_at = now

    def set_import_point_of_sale(self, enabled: bool, now: datetime) -> None:
        """Turn the import of PDV sales on or off. Turned on, the next poll reads the backfill
        window again, so the sales left out until now come in (the rest is unchanged and costs
        no writes)."""
        if enabled and not self.import_point_of_sale:
            self.poll_cursor = None
            self.poll_since = self.poll_started_at = self.poll_offset = None
        self.import_point_of_sale = enabled
        self.updated_at = now

    def note_poll_failure(self, reason: str, now: datetime) -> None:
        self._note_error(ErrorKind.POLL, f"{POLL_ERROR_PREFIX}{reason}")
        self.updated_at = now


    # -- permissions ------------------------------------------------------------------

    def note_permission_missing(self, permission: ErpPermission, window_since: datetime | None, now: datetime) -> bool:
        """The ERP refused a module (403). `window_since`: the poll window being imported
        without what the module gives, to read again once it is back. True when newly missing."""
        newly = permission not in self.missing_permissions
        self.missing_permissions = self.missing_permissions | {permission}
        if permission in FILLED_IN_LATER and window_since is not None:
            self.incomplete_since = min(self.incomplete_since or window_since, window_since)
        self.permissions_checked_at = now
        self.updated_at = now
        return newly

    def note_permission_back(self, permission: ErpPermission, now: datetime) -> bool:
        """The module answered: the permission is there. When it is one whose absence left
        orders incomplete, the window imported meanwhile is read again (the unfinished poll,
        if any, restarts from there). True when it had been missing."""
        if permission not in self.missing_permissions:
            return False
        self.missing_permissions = self.missing_permissions - {permission}
        self.permissions_checked_at = now
        self.updated_at = now
        if permission in FILLED_IN_LATER and self.incomplete_since is not None:
            progress = self.poll_progress()
            since = min(self.incomplete_since, progress.since) if progress else self.incomplete_since
            self.poll_since, self.poll_started_at, self.poll_offset = since, progress.started_at if progress else now, 0
            if not self.missing_permissions & FILLED_IN_LATER:
                self.incomplete_since = None
        return True

    def permissions_recheck_due(self, now: datetime, every: timedelta) -> bool:
        """Whether to ask again for the missing permissions (a merchant ticks them in Tiny and
        does nothing else here)."""
        if not self.missing_permissions:
            return False
        return self.permissions_checked_at is None or now - self.permissions_checked_at >= every

    # -- alerts and manual sync ------------------------------------------------------------

    def open_alert(self, kind: str) -> bool:
        """A problem the merchant must hear about; False when they were already told of it or
        of a graver one (told once). Kinds listed first in ALERT_SEVERITY are graver: a
        disconnection is told even while a missing permission is open."""
        if self.alert_open is not None and _severity(self.alert_open) <= _severity(kind):
            return False
        self.alert_open = kind
        return True

    def close_alert(self, kind: str) -> bool:
        """That problem is over; True when it was the one the merchant had been told about."""
        if self.alert_open != kind:
            return False
        self.alert_open = None
        return True

    def request_sync(self, now: datetime, min_gap: timedelta) -> datetime | None:
        """A manual poll: None when granted, else the instant the next one is allowed."""
        if not self.is_pollable:
            raise InvalidTransition("conecte a integração para sincronizar")
        if self.sync_requested_at is not None and now < self.sync_requested_at + min_gap:
            return self.sync_requested_at + min_gap
        self.sync_requested_at = now
        return None


# Alert kinds, gravest first (values of domain.events.AlertKind).
ALERT_SEVERITY = ("disconnected", "permission_missing")


def _severity(kind: str) -> int:
    return ALERT_SEVERITY.index(kind) if kind in ALERT_SEVERITY else len(ALERT_SEVERITY)


# What the merchant reads before the reason; which step wrote it is `error_kind`, never these.
RENEWAL_ERROR_PREFIX = "Renovação do acesso: "
POLL_ERROR_PREFIX = "Sincronização: "
