"""DeliverTrackingRequests: hand the outbox's tracking requests to the tracking service.

Each request carries an idempotency key, so delivering one twice (a worker that died after
the call and before the commit) is harmless; an order's requests go out in order. That is why
delivered tracking requests are marked in groups, one transaction per RECORD_EVERY of them
rather than one each (a first import of 3,400 orders spent most of its delivery on those
commits): a worker killed mid-group has them delivered again. A merchant's alert, which a
person reads, is marked on its own, as soon as it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import attrs

from kanglu.application.commands import DeliverTrackingRequestsCommand as Command
from kanglu.application.errors import TransientFailure
from kanglu.application.alerts import AlertDelivery
from kanglu.application.ports import Clock, TrackingService, UnitOfWorkFactory
from kanglu.application.use_cases.refresh_token import backoff
from kanglu.domain.events import AlertRequest, ConnectionEvent, EventKind

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
RECORD_EVERY = 50


@attrs.frozen
class DeliveryReport:
    delivered: int
    failed: int


class DeliverTrackingRequests:
    def __init__(
        self, *, uow: UnitOfWorkFactory, clock: Clock, tracking: TrackingService, alerts: AlertDelivery | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._tracking = tracking
        # Merchant alerts share the outbox (and its retries, leases and per-stream order).
        self._alerts = alerts

    def __call__(self, command: Command) -> DeliveryReport:
        with self._uow() as uow:
            messages = uow.outbox.claim(command.owner, self._clock.now(), LEASE, command.limit)
            uow.commit()
        delivered = failed = 0
        blocked: set[str] = set()
        unrecorded: list[int] = []  # tracking requests delivered, not yet marked so
        for message in messages:
            key = message.stream
            if key in blocked:
                continue  # an earlier request of this order failed: keep the order
            sent: str | None = None
            try:
                if isinstance(message.request, AlertRequest):
                    if self._alerts is None:
                        raise TransientFailure("alertas não configurados neste processo")
                    sent = self._alerts.deliver(message.request)
                else:
                    self._tracking.deliver(message.request)
            except Exception as exc:  # noqa: BLE001 - whatever the adapter raises, the message waits
                failed += 1
                blocked.add(key)
                reason = exc.message if isinstance(exc, TransientFailure) else f"{type(exc).__name__}: {exc}"
                retry_after = exc.retry_after if isinstance(exc, TransientFailure) else None
                self._record([message.id], delivered_ok=False, error=reason[:500], retry_after=retry_after)
                log.log(
                    logging.WARNING if isinstance(exc, TransientFailure) else logging.ERROR,
                    "tracking delivery failed, will retry",
                    extra={"outbox_id": message.id, "stream": message.stream, "reason": reason},
                    exc_info=not isinstance(exc, TransientFailure),
                )
                continue
            delivered += 1
            if isinstance(message.request, AlertRequest):
                self._record([message.id], delivered_ok=True, error=None, sent=sent)
            elif message.id is not None:
                unrecorded.append(message.id)
                if len(unrecorded) >= RECORD_EVERY:
                    self._record(unrecorded, delivered_ok=True, error=None)
                    unrecorded = []
        if unrecorded:
            self._record(unrecorded, delivered_ok=True, error=None)
        return DeliveryReport(delivered, failed)

    def _record(
        self, message_ids: Sequence[int | None], *, delivered_ok: bool, error: str | None,
        retry_after: float | None = None, sent: str | None = None,
    ) -> None:
        with self._uow() as uow:
            now = self._clock.now()
            for message in uow.outbox.by_ids([i for i in message_ids if i is not None]):
                message.lease_owner = None
                message.lease_expires_at = None
                if delivered_ok:
                    message.delivered_at = now
                    message.last_error = None
                    if sent is not None and isinstance(message.request, AlertRequest):
                        # In the transaction that marks it delivered: the history says it once.
                        uow.events.add(ConnectionEvent(message.request.connection_id, EventKind.ALERT_SENT, now, sent))
                else:
                    message.attempts += 1
                    message.last_error = error
                    message.next_attempt_at = backoff(message.attempts, now)
                    if retry_after:
                        message.next_attempt_at = max(message.next_attempt_at, now + timedelta(seconds=retry_after))
            uow.commit()
