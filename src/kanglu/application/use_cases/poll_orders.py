"""PollOrdersByStatus: bring in the orders changed in the ERP since the last complete poll.

Pages are read from a window that starts at the stored cursor minus an overlap. Each page is
imported in one transaction together with the poll's progress, so a poll that fails half-way
resumes from the page it did not finish, and the cursor moves only when the window was read
to the end. The ERP is asked for every situação at once: an order that leaves the mapped
situações is seen leaving, and one page costs one call however many situações are mapped.

A poll where nothing changed costs one API call and one write statement (on PostgreSQL in
autocommit: one round trip), which also releases the poll job and sets its next run when the
worker says whose lease it holds. So does a page that only lists orders already imported and
unchanged (the day's changes listed again, Tiny's filter being by day), after one read. The
connection is read once, at the start (by the worker's claim, or else by a reading unit of
work); each page's write takes that copy's poll columns without reading the row again.

A module the ERP application may not read (a 403: a permission not ticked in Tiny) is not a
lost authorisation. Without Notas Fiscais the orders are imported without their invoices, without
Formas de Envio without their shipping families; the connection notes what is missing, and
every `permission_recheck` asks again. Once a permission is back, the window imported without it
is read again, which fills in what was skipped. Without Pedidos nothing can be imported: the
poll is paused with that message and tried again every `permission_recheck`.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from kanglu.application.commands import PollOrdersByStatusCommand as Command
from kanglu.application import journal
from kanglu.application.errors import PermissionMissing, RateLimited, ReauthorizationRequired, TransientFailure
from kanglu.application.importing import ImportReport, OrderImporter
from kanglu.application.ports import Clock, ErpGateway, OrderPage, SecretBox, UnitOfWorkFactory
from kanglu.application.tokens import ConnectionTokens
from kanglu.domain.connections import ErpConnection, PollProgress
from kanglu.domain.events import ConnectionEvent
from kanglu.domain.jobs import JobKey, JobKind, JobRelease
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder, StoredOrder
from kanglu.domain.permissions import ErpPermission, ordered
from kanglu.domain.situacoes import INVOICED_SITUACOES, Action, StatusMapping

log = logging.getLogger(__name__)

# How often a missing permission is asked for again (one small call), and a poll without the
# Pedidos permission tried again: a merchant who ticks it in Tiny waits at most this long.
PERMISSION_RECHECK = timedelta(minutes=5)


class PollOutcome(enum.StrEnum):
    COMPLETED = "completed"
    RETRY = "retry"  # transient failure, rate limit, or work left for the next run: progress kept
    SKIPPED = "skipped"  # not connected
    DISCONNECTED = "disconnected"
    PAUSED = "paused"  # the application may not read orders (403 on /pedidos): tried again later


@attrs.frozen
class PollResult:
    outcome: PollOutcome
    next_due_at: datetime | None
    report: ImportReport = attrs.field(factory=ImportReport)
    pages: int = 0
    reason: str | None = None
    # Whether the poll job's lease was still ours when the poll released it with its last
    # page (PollOrders.lease_owner); None: the poll did not release it, the caller does.
    lease_kept: bool | None = None


@attrs.frozen
class _Start:
    connection: ErpConnection
    progress: PollProgress


@attrs.frozen
class _Stored:
    """What one read of the database tells about a page's orders before they are imported."""

    mapping: StatusMapping
    families: dict[int, int | None]
    orders: dict[int, StoredOrder]  # the page's orders already stored: signatures and invoices
    failing: frozenset[int]  # the page's orders with an open import failure
    carrier_mappings: dict[str, str]  # the merchant's own shipping service -> carrier choices


def _following(progress: PollProgress, page: OrderPage) -> PollProgress | None:
    """Where the window goes on after this page: further in the same listing, or from a later
    instant (the ERP reads some windows in several listings); None when it was read to the end."""
    if page.next_offset is not None:
        return PollProgress(progress.since, progress.started_at, page.next_offset)
    if page.next_since is not None:
        return PollProgress(page.next_since, progress.started_at, 0)
    return None


def _wanted(items: Sequence[ErpOrder | MalformedOrder], connection: ErpConnection) -> list[ErpOrder | MalformedOrder]:
    """The page without point-of-sale (PDV) sales, unless the merchant imports them: the ERP is
    asked to leave them out, and one that lists them anyway is not obeyed blindly."""
    if connection.import_point_of_sale:
        return list(items)
    return [i for i in items if not (isinstance(i, ErpOrder) and i.point_of_sale)]


class PollOrdersByStatus:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        gateway: ErpGateway,
        importer: OrderImporter,
        secret_box: SecretBox,
        tokens_for: Callable[[int], ConnectionTokens],
        interval: timedelta,
        backfill: timedelta,
        overlap: timedelta = timedelta(minutes=10),
        max_pages: int | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
        permission_recheck: timedelta = PERMISSION_RECHECK,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._gateway = gateway
        self._importer = importer
        self._box = secret_box
        self._tokens_for = tokens_for
        self._interval = interval
        self._backfill = backfill
        self._overlap = overlap
        # A bound on pages per run keeps one huge backfill from holding a worker for long;
        # the progress is stored, so the next run continues from there.
        self._max_pages = max_pages
        self._stop_requested = stop_requested
        # How often a missing permission is asked for again (one small call each), and how
        # long a poll without the Pedidos permission waits before trying again.
        self._permission_recheck = permission_recheck

    def next_regular_run(self, started: datetime, now: datetime) -> datetime:
        """The next poll: one interval after this one started, up to 10 % earlier so that
        thousands of connections spread out. Never later: an order that changes just after
        a poll read the listing is read by the next one within one interval."""
        early = timedelta(seconds=random.uniform(0, self._interval.total_seconds() * 0.1))
        return max(now, started + self._interval - early)

    def __call__(self, command: Command) -> PollResult:
        started = self._clock.now()
        tokens = self._tokens_for(command.connection_id)
        try:
            start = self._start(command.connection_id, tokens, command.connection)
        except TransientFailure as exc:  # the database away for a moment: retried like a failed page
            return self._failed(command.connection_id, exc, ImportReport(), 0)
        if start is None:
            return PollResult(PollOutcome.SKIPPED, None)
        connection, progress = start.connection, start.progress
        families: dict[int, int | None] | None = None  # read with the first page that lists orders
        report = ImportReport()
        pages = 0
        lease_kept: bool | None = None  # set by the last page's write when it releases the job
        try:
            progress = self._recheck_permissions(command.connection_id, tokens, connection, progress)
            while True:
                page = self._gateway.changed_orders(
                    tokens, progress.since, progress.next_offset, until=progress.started_at,
                    point_of_sale=connection.import_point_of_sale,
                    window_start=connection.poll_window_start(progress, self._overlap, self._backfill),
                )
                if ErpPermission.PEDIDOS in connection.missing_permissions:
                    self._permission_back(command.connection_id, connection, ErpPermission.PEDIDOS)
                following = _following(progress, page)
                items = _wanted(page.items, connection)
                mapping: StatusMapping | None = None  # set when the page has something to import
                if items:  # an empty page (nothing changed: most polls) needs no read, no import
                    stored = self._stored(connection, items, families)
                    mapping, families = stored.mapping, stored.families
                    orders = [i for i in items if isinstance(i, ErpOrder)]
                    unknown = {o.shipping.service_id for o in orders if o.shipping.service_id is not None} - families.keys()
                    if unknown:
                        families = self._refresh_families(command.connection_id, tokens, families, connection,
                                                          progress, unknown)
                    items = self._with_invoices(tokens, items, stored, connection, progress)
                    items = self._with_totals(tokens, items, stored)
                    unchanged = self._importer.report_without_writing(
                        mapping, items, {i: o.fingerprint for i, o in stored.orders.items()}, stored.failing,
                        stored.carrier_mappings, families,
                    )
                    if unchanged is not None:  # the day's overlap listed again, nothing new
                        report.add(unchanged)
                        mapping = None
                # A page with nothing to import (the last one, as a listing ends with it, or
                # one that re-lists unchanged orders) is written by save_poll alone: one
                # statement, the whole write of a quiet poll.
                with self._uow() if mapping is not None else self._uow.one_statement() as uow:
                    # Not read again: a connection disconnected since the start of this poll
                    # still gets this page and its cursor, which a reconnection resumes from;
                    # its status and tokens are not written here (save_poll).
                    now = self._clock.now()
                    if mapping is not None:
                        report.add(self._importer.import_batch(uow, connection, mapping, items, now, families))
                    pages += 1
                    release = None
                    event = None
                    if following is None or (self._max_pages is not None and pages >= self._max_pages):
                        # The run's last write carries its row of the history (folded when quiet).
                        event = ConnectionEvent.poll(
                            command.connection_id, now, imported=report.imported - report.updated,
                            updated=report.updated, failed=report.failed, api_calls=tokens.calls,
                        )
                    if following is None:
                        connection.finish_poll(progress, now)
                        next_due = self.next_regular_run(started, now)
                        if command.lease_owner is not None:
                            release = JobRelease(JobKey(JobKind.POLL, command.connection_id), command.lease_owner, next_due)
                    else:
                        connection.advance_poll(following, following.next_offset)
                    lease_kept = uow.connections.save_poll(connection, release, event)
                    uow.commit()
                if following is None:
                    break
                progress = following
                if (self._max_pages is not None and pages >= self._max_pages) or self._stop_requested():
                    return PollResult(PollOutcome.RETRY, self._clock.now(), report, pages, "continua no próximo ciclo")
        except RateLimited as exc:
            return self._failed(command.connection_id, exc, report, pages, rate_limited=True)
        except TransientFailure as exc:
            return self._failed(command.connection_id, exc, report, pages)
        except ReauthorizationRequired as exc:
            self._disconnect(command.connection_id, exc)
            return PollResult(PollOutcome.DISCONNECTED, None, report, pages, exc.message)
        except PermissionMissing as exc:  # the orders themselves (the other modules are handled where called)
            return self._paused(command.connection_id, connection, exc, report, pages)

        # A poll that found nothing new is the common case (a connection polled every minute):
        # at INFO it would be a line per merchant per minute; the polls metric counts it anyway.
        quiet = pages == 1 and not (report.imported or report.failed)
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "poll completed",
            extra={"connection_id": command.connection_id, "pages": pages, "imported": report.imported,
                   "unchanged": report.unchanged, "failed": report.failed, "ignored": report.ignored},
        )
        return PollResult(PollOutcome.COMPLETED, next_due, report, pages, lease_kept=lease_kept)

    def _start(self, connection_id: int, tokens: ConnectionTokens, read: ErpConnection | None) -> _Start | None:
        """The poll's only read of the connection (unless the worker read it with the claim):
        the window and the access token."""
        connection = read
        if connection is None:
            with self._uow.reading() as uow:
                connection = uow.connections.get(connection_id)
        if connection is None or not connection.is_pollable or connection.access_token is None:
            return None
        progress = connection.poll_window(self._clock.now(), self._overlap, self._backfill)
        tokens.preload(self._box.open(connection.access_token), connection.token_version)
        return _Start(connection, progress)

    def _stored(
        self, connection: ErpConnection, items: Sequence[ErpOrder | MalformedOrder], families: dict[int, int | None] | None
    ) -> _Stored:
        """One read for a page that lists orders: the status mapping, the page's orders already
        stored (signatures and invoices) and their open failures, the merchant's carrier
        choices, and (once per poll) the cached shipping families. Enough to tell a page that
        changes nothing without a write transaction."""
        assert connection.id is not None
        erp_ids = [i.erp_order_id for i in items if isinstance(i, ErpOrder)]
        with self._uow.reading() as uow:
            mapping = uow.status_mappings.get(connection.id)
            if families is None:
                families = {sid: f.family for sid, f in uow.shipping_families.for_connection(connection.id).items()}
            orders = uow.orders.stored(connection.id, erp_ids) if erp_ids else {}
            failing = frozenset(uow.import_failures.for_erp_ids(connection.id, erp_ids)) if erp_ids else frozenset()
            carrier_mappings = uow.carrier_mappings.for_merchant(connection.merchant_id) if erp_ids else {}
        return _Stored(mapping, families, orders, failing, carrier_mappings)

    def _disconnect(self, connection_id: int, exc: ReauthorizationRequired) -> None:
        """The ERP refused the API call for good (a 403, or a 401 right after a renewal): the
        merchant must authorise again. A refused renewal has already done this."""
        with self._uow() as uow:
            connection = uow.connections.lock(connection_id)
            if connection is not None and connection.is_pollable:
                now = self._clock.now()
                connection.mark_disconnected(exc.message, now)
                journal.disconnected(uow, connection, exc.message, now)
                uow.commit()
        log.warning("poll stopped: authorisation refused", extra={"connection_id": connection_id,
                                                                   "reason": exc.message})

    def _refresh_families(
        self, connection_id: int, tokens: ConnectionTokens, known: Mapping[int, int | None],
        connection: ErpConnection, progress: PollProgress, unknown: set[int],
    ) -> dict[int, int | None]:
        """A shipping service we never saw: ask the ERP once for all of them and cache them.
        Without the Formas de Envio permission, the orders go on without a family (for this
        poll's other pages too), to be read again once the permission is back."""
        skipped = {service_id: None for service_id in unknown}
        if ErpPermission.FORMAS_ENVIO in connection.missing_permissions:
            self._permission_missing(connection_id, connection, ErpPermission.FORMAS_ENVIO, progress)
            return {**known, **skipped}
        try:
            fetched = self._gateway.shipping_families(tokens)
        except PermissionMissing as exc:
            self._permission_missing(connection_id, connection, exc.permission, progress)
            return {**known, **skipped}
        with self._uow() as uow:
            uow.shipping_families.save(connection_id, fetched)
            uow.commit()
        merged = dict(known)
        merged.update({f.service_id: f.family for f in fetched})
        return merged

    def _with_invoices(
        self, tokens: ConnectionTokens, items: Sequence[ErpOrder | MalformedOrder], stored: _Stored,
        connection: ErpConnection, progress: PollProgress,
    ) -> list[ErpOrder | MalformedOrder]:
        """Attach invoices: the one already stored when there is one, else fetched in one go
        for the orders that should have one by now. No transaction stays open during the call.

        A stored invoice stays with its order whatever the situação: an order cancelled or moved
        to an unmapped situação keeps the NF-e it was imported with (the listing never carries
        the invoice, so leaving it off the snapshot would erase it, and with it a tracking code
        only the invoice knew)."""
        missing = [i for i in items if isinstance(i, ErpOrder) and i.invoice is None]
        if not missing:
            return list(items)
        known = {erp_id: order.invoice for erp_id, order in stored.orders.items() if order.invoice is not None}
        # A tracking code often appears on the NF-e after the import: while the order has none
        # of its own and its stored invoice has none either, the invoice is looked up again.
        stale = {
            o.erp_order_id
            for o in missing
            if o.tracking_code is None and o.erp_order_id in known and known[o.erp_order_id].tracking_code is None
        }
        wanted = [
            o
            for o in missing
            if (o.erp_order_id not in known or o.erp_order_id in stale)
            and o.situacao in INVOICED_SITUACOES
            and (stored.mapping.action_for(o.situacao) is not Action.IGNORE or o.erp_order_id in stored.orders)
        ]
        fetched: Mapping[int, Invoice | MalformedOrder] = {}
        if wanted and ErpPermission.NOTAS_FISCAIS in connection.missing_permissions:
            # Imported without their invoices for now; this window is read again once it is back.
            self._permission_missing(connection.id, connection, ErpPermission.NOTAS_FISCAIS, progress)
        elif wanted:
            try:
                fetched = self._gateway.invoices_for(tokens, wanted)
            except PermissionMissing as exc:
                self._permission_missing(connection.id, connection, exc.permission, progress)
        result: list[ErpOrder | MalformedOrder] = []
        for item in items:
            if isinstance(item, MalformedOrder) or item.invoice is not None:
                result.append(item)
                continue
            invoice = fetched.get(item.erp_order_id) or known.get(item.erp_order_id)
            if isinstance(invoice, MalformedOrder):
                result.append(invoice)
            elif invoice is not None:
                result.append(attrs.evolve(item, invoice=invoice))
            else:
                result.append(item)
        return result

    # -- permissions ---------------------------------------------------------------------

    def _recheck_permissions(
        self, connection_id: int, tokens: ConnectionTokens, connection: ErpConnection, progress: PollProgress
    ) -> PollProgress:
        """Every `permission_recheck`, ask again for the missing permissions (Pedidos is asked
        by the poll's own listing). One that is back may move the poll's window back to the
        orders imported without it: the window to read is returned."""
        now = self._clock.now()
        if not connection.permissions_recheck_due(now, self._permission_recheck):
            return progress
        back: list[ErpPermission] = []
        account_name: str | None = None
        for permission in ordered(connection.missing_permissions - {ErpPermission.PEDIDOS}):
            try:
                if permission is ErpPermission.INFO_CONTA:
                    account_name = self._gateway.account_name(tokens)  # the probe and what was skipped
                elif not self._gateway.has_permission(tokens, permission):
                    continue
            except PermissionMissing:
                continue
            back.append(permission)

        def change(row: ErpConnection) -> None:
            for permission in back:
                row.note_permission_back(permission, now)
                if permission is ErpPermission.INFO_CONTA and account_name:
                    row.account_name = account_name
            row.permissions_checked_at = now

        self._change(connection_id, connection, change)
        if back:
            log.info("erp permissions back", extra={"connection_id": connection_id,
                                                    "permissions": [p.value for p in back]})
        return connection.poll_window(now, self._overlap, self._backfill)

    def _permission_missing(
        self, connection_id: int | None, connection: ErpConnection, permission: ErpPermission,
        progress: PollProgress | None,
    ) -> None:
        """Note a missing permission (and the window imported without it), once per poll."""
        assert connection_id is not None
        known = permission in connection.missing_permissions
        if known and (progress is None or (connection.incomplete_since is not None
                                           and connection.incomplete_since <= progress.since)):
            return  # already noted for this window: no write per page
        now = self._clock.now()
        self._change(connection_id, connection,
                     lambda row: row.note_permission_missing(permission, progress.since if progress else None, now))
        if not known:
            log.warning("erp permission missing", extra={"connection_id": connection_id, "permission": permission.value})

    def _permission_back(self, connection_id: int, connection: ErpConnection, permission: ErpPermission) -> None:
        now = self._clock.now()
        self._change(connection_id, connection, lambda row: row.note_permission_back(permission, now))
        log.info("erp permissions back", extra={"connection_id": connection_id, "permissions": [permission.value]})

    def _paused(
        self, connection_id: int, connection: ErpConnection, exc: PermissionMissing, report: ImportReport, pages: int
    ) -> PollResult:
        """No Pedidos permission: nothing to import. Not a disconnection (reconnecting would not
        help): the card says what to tick, and the poll tries again every `permission_recheck`."""
        now = self._clock.now()
        known = exc.permission in connection.missing_permissions

        def change(row: ErpConnection) -> None:
            row.note_permission_missing(exc.permission, None, now)
            row.note_poll_failure(exc.message, now)

        try:
            self._change(connection_id, connection, change)
        except TransientFailure:
            pass  # the retry is scheduled below all the same
        if not known:
            log.warning("poll paused: erp permission missing",
                        extra={"connection_id": connection_id, "permission": exc.permission.value,
                               "request_id": exc.request_id})
        return PollResult(PollOutcome.PAUSED, now + self._permission_recheck, report, pages, exc.message)

    def _change(self, connection_id: int, connection: ErpConnection, change: Callable[[ErpConnection], object]) -> None:
        """Apply a change to the stored connection (read again, locked) and to this poll's copy:
        rare writes (a permission missing or back), apart from the poll's own columns."""
        with self._uow() as uow:
            row = uow.connections.lock(connection_id)
            if row is not None:
                before = {p.value for p in row.missing_permissions}
                change(row)
                after = {p.value for p in row.missing_permissions}
                if before != after:  # the history's event and the merchant's alert, in the same commit
                    journal.permissions_changed(uow, row, before, after, self._clock.now())
                uow.commit()
        change(connection)

    def _with_totals(
        self, tokens: ConnectionTokens, items: Sequence[ErpOrder | MalformedOrder], stored: _Stored
    ) -> list[ErpOrder | MalformedOrder]:
        """Fill in the total of orders listed with an empty `valor`: the one already stored when
        there is one (the day's overlap lists them again), else the order's detail, one call
        each and only for those orders. A detail that fails leaves the total unknown (None),
        never zero; the next listing of the order asks again. A rate limit stops the page
        (retried later, nothing lost) rather than storing an unknown total."""
        result: list[ErpOrder | MalformedOrder] = []
        for item in items:
            if isinstance(item, MalformedOrder) or not item.lacks_total:
                result.append(item)
                continue
            known = stored.orders.get(item.erp_order_id)
            if known is not None and known.total is not None:
                result.append(item.with_total(known.total, None))
                continue
            if known is None and stored.mapping.action_for(item.situacao) is Action.IGNORE:
                result.append(item)  # not imported: its total is not worth a call
                continue
            result.append(self._total_from_detail(tokens, item))
        return result

    def _total_from_detail(self, tokens: ConnectionTokens, order: ErpOrder) -> ErpOrder:
        try:
            detail = self._gateway.order(tokens, order.erp_order_id)
        except RateLimited:
            raise
        except TransientFailure as exc:
            log.warning("order detail unavailable, total left unknown",
                        extra={"erp_order_id": order.erp_order_id, "reason": exc.message})
            return order
        if isinstance(detail, ErpOrder) and detail.total is not None:
            return order.with_total(detail.total, None)
        return order

    def _failed(
        self, connection_id: int, exc: TransientFailure, report: ImportReport, pages: int, rate_limited: bool = False
    ) -> PollResult:
        now = self._clock.now()
        if exc.retry_after:
            retry_at = now + timedelta(seconds=exc.retry_after)
        else:
            retry_at = now + min(self._interval, timedelta(minutes=1))
        if not rate_limited:
            try:
                with self._uow() as uow:
                    connection = uow.connections.get(connection_id)
                    if connection is not None:
                        connection.note_poll_failure(exc.message, now)
                        uow.commit()
            except TransientFailure:
                pass  # the message is a courtesy; the retry is what matters, and it is scheduled
        log.warning(
            "poll interrupted, progress kept",
            extra={"connection_id": connection_id, "reason": exc.message, "request_id": exc.request_id,
                   "pages": pages, "rate_limited": rate_limited},
        )
        return PollResult(PollOutcome.RETRY, retry_at, report, pages, exc.message)
