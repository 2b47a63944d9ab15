"""What the merchant steers: "Sincronizar agora", the alerts' settings, the history's purge."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

import attrs

from kanglu.application.commands import RequestSyncCommand as RequestSyncCommand
from kanglu.application.commands import SaveNotificationSettingsCommand as SaveNotificationsCommand
from kanglu.application.errors import ApplicationError, InvalidInput, NotFound
from kanglu.application.ports import Clock, SecretBox, UnitOfWorkFactory
from kanglu.domain.errors import InvalidTransition
from kanglu.domain.events import EVENT_RETENTION, NotificationSettings
from kanglu.domain.jobs import JobKind
from kanglu.domain.secrets import Secret

log = logging.getLogger(__name__)

SYNC_MIN_GAP = timedelta(minutes=1)


class SyncTooSoon(ApplicationError):
    """A second "Sincronizar agora" within the minute: nothing is scheduled."""

    def __init__(self, next_allowed_at: datetime, next_sync_at: datetime | None) -> None:
        super().__init__("aguarde um minuto entre duas sincronizações manuais")
        self.next_allowed_at = next_allowed_at
        self.next_sync_at = next_sync_at


class RequestSync:
    """Make the connection's poll due now (at most once a minute). When a poll is running at
    that moment, it stands for the requested one: its release sets the next regular run."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, min_gap: timedelta = SYNC_MIN_GAP) -> None:
        self._uow = uow
        self._clock = clock
        self._min_gap = min_gap

    def __call__(self, command: RequestSyncCommand) -> datetime:
        """The instant the poll is due (now)."""
        with self._uow() as uow:
            found = uow.connections.for_merchant(command.merchant_id)
            connection = uow.connections.lock(found.id) if found is not None and found.id is not None else None
            if connection is None or connection.id is None:
                raise NotFound("integração não encontrada")
            now = self._clock.now()
            try:
                refused_until = connection.request_sync(now, self._min_gap)
            except InvalidTransition as exc:
                raise ApplicationError(str(exc)) from None
            if refused_until is not None:
                job = uow.jobs.get(JobKind.POLL, connection.id)
                raise SyncTooSoon(refused_until, job.due_at if job is not None else None)
            uow.jobs.schedule(JobKind.POLL, connection.id, now)
            uow.commit()
            log.info("manual sync requested", extra={"connection_id": connection.id})
            return now


@attrs.frozen
class SavedNotifications:
    settings: NotificationSettings
    # The webhook's signing secret, in the clear: only right after it was made (a new URL).
    new_secret: str | None = None


class SaveNotificationSettings:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, secret_box: SecretBox) -> None:
        self._uow = uow
        self._clock = clock
        self._box = secret_box

    def __call__(self, command: SaveNotificationsCommand) -> SavedNotifications:
        url = command.webhook_url
        if url is not None and not url.startswith("https://"):
            raise InvalidInput({"webhook_url": "use um endereço https://"})
        with self._uow() as uow:
            settings = uow.notifications.get(command.merchant_id)
            new_secret = None
            if url is None:
                settings.webhook_secret = None
            elif url != settings.webhook_url or settings.webhook_secret is None:
                # A new endpoint gets a new secret, shown once: whoever knew the old one must not
                # be able to sign for the new one.
                new_secret = "whsec_" + secrets.token_urlsafe(32)
                settings.webhook_secret = self._box.seal(Secret(new_secret))
            settings.email = command.email
            settings.webhook_url = url
            settings.updated_at = self._clock.now()
            uow.notifications.save(settings)
            uow.commit()
            return SavedNotifications(settings, new_secret)


class PurgeEvents:
    """The history keeps 90 days."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, retention: timedelta = EVENT_RETENTION) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention

    def __call__(self) -> int:
        with self._uow() as uow:
            purged = uow.events.purge(self._clock.now() - self._retention)
            uow.commit()
        if purged:
            log.info("old events purged", extra={"events": purged})
        return purged
