"""PollOrdersByStatus: bring in the orders changed in the ERP since the last complete poll.

Pages are read from a window that starts at the stored cursor minus an overlap. Each page's
orders are imported (ImportOrder, one transaction), then the poll's progress is written, so a
poll that fails half-way resumes from the page it did not finish (the import is idempotent: a
page imported and not checkpointed is found unchanged when read again), and the cursor moves
only when the window was read to the end. The ERP is asked for every situação at once: an order
that leaves the mapped situações is seen leaving, and one page costs one call however many
situações are mapped.

The poll's reads and progress go through PollProgressStore, whose adapter makes them cheap: a
poll where nothing changed costs one API call and the progress store's one write. So does a
page that only lists orders already imported and unchanged (the day's changes listed again,
Tiny's filter being by day), after one read. What a page changes, and which invoices and totals
to fetch, is planned by order_page_plan; this module orchestrates the calls.

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

from kanglu.application import journal
from kanglu.application.commands import ImportOrderCommand, ImportSettings
from kanglu.application.commands import PollOrdersByStatusCommand as Command
from kanglu.application.errors import (
    PermissionMissing,
    RateLimited,
    ReauthorizationRequired,
    TransientFailure,
)
from kanglu.application.importing import ImportReport
from kanglu.application.order_page_plan import (
    Item,
    following_window,
    invoices_to_fetch,
    next_regular_run,
    plan_order_page,
    totals_to_fetch,
    unknown_services,
    wanted_items,
    with_invoices,
    with_totals,
)
from kanglu.application.poll_permissions import PERMISSION_RECHECK, PollPermissions
from kanglu.application.ports import (
    Clock,
    ErpGateway,
    OrderPage,
    PollProgressStore,
    SecretBox,
    StoredPage,
    UnitOfWorkFactory,
)
from kanglu.application.tokens import ConnectionTokens
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.domain.carriers import CarrierRegistry
from kanglu.domain.connections import ErpConnection, PollProgress
from kanglu.domain.events import ConnectionEvent
from kanglu.domain.money import Money
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder
from kanglu.domain.permissions import ErpPermission

log = logging.getLogger(__name__)

class PollOutcome(enum.StrEnum):
    COMPLETED = "completed"
    RETRY = "retry"  # transient failure, rate limit, or work left for the next run: progress kept
    SKIPPED = "skipped"  # not connected
    DISCONNECTED = "disconnected"
    PAUSED = "paused"  # the application may not read orders (403 on /pedidos): tried again later


@attrs.frozen
class PollResult:
    """How the run ended and when the connection's next poll is due (None: never, as things
    stand); whoever runs polls on a schedule (the worker) takes it from here."""

    outcome: PollOutcome
    next_due_at: datetime | None
    report: ImportReport = attrs.field(factory=ImportReport)
    pages: int = 0
    reason: str | None = None


@attrs.define
class _Run:
    """One poll under way: the connection as read at its start, and what it did so far."""

    connection: ErpConnection
    tokens: ConnectionTokens
    progress: PollProgress
    started: datetime
    families: Mapping[int, int | None] | None = None  # read with the first page that lists orders
    report: ImportReport = attrs.Factory(ImportReport)
    pages: int = 0

    @property
    def connection_id(self) -> int:
        assert self.connection.id is not None
        return self.connection.id


class PollOrdersByStatus:
    def __init__(
        self,
        *,
        progress: PollProgressStore,
        uow: UnitOfWorkFactory,
        clock: Clock,
        gateway: ErpGateway,
        import_order: ImportOrder,
        carriers: CarrierRegistry,
        secret_box: SecretBox,
        tokens_for: Callable[[int], ConnectionTokens],
        interval: timedelta,
        backfill: timedelta,
        overlap: timedelta = timedelta(minutes=10),
        max_pages: int | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
        permission_recheck: timedelta = PERMISSION_RECHECK,
        rng: random.Random | None = None,
    ) -> None:
        self._progress = progress
        self._uow = uow  # the rare writes: a permission noted, families cached, a disconnection
        self._clock = clock
        self._gateway = gateway
        self._import_order = import_order
        self._carriers = carriers
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
        self._permissions = PollPermissions(uow=uow, clock=clock, gateway=gateway, recheck_every=permission_recheck)
        # The spread of the next runs (the container gives one; a test a seeded one).
        self._rng = rng if rng is not None else random.Random()

    def next_regular_run(self, started: datetime, now: datetime) -> datetime:
        return next_regular_run(started, now, self._interval, self._rng)

    def __call__(self, command: Command) -> PollResult:
        started = self._clock.now()
        tokens = self._tokens_for(command.connection_id)
        try:
            connection = self._progress.start(command.connection_id)
        except TransientFailure as exc:  # the database away for a moment: retried like a failed page
            return self._failed(command.connection_id, exc, ImportReport(), 0)
        if connection is None or not connection.is_pollable or connection.access_token is None:
            return PollResult(PollOutcome.SKIPPED, None)
        tokens.preload(self._box.open(connection.access_token), connection.token_version)
        run = _Run(connection, tokens, connection.poll_window(started, self._overlap, self._backfill), started)
        try:
            return self._read_pages(run)
        except RateLimited as exc:
            return self._failed(run.connection_id, exc, run.report, run.pages, rate_limited=True)
        except TransientFailure as exc:
            return self._failed(run.connection_id, exc, run.report, run.pages)
        except ReauthorizationRequired as exc:
            self._disconnect(run.connection_id, exc)
            return PollResult(PollOutcome.DISCONNECTED, None, run.report, run.pages, exc.message)
        except PermissionMissing as exc:  # the orders themselves (the other modules are handled where called)
            retry_at = self._permissions.pause(run.connection_id, run.connection, exc)
            return PollResult(PollOutcome.PAUSED, retry_at, run.report, run.pages, exc.message)

    def _read_pages(self, run: _Run) -> PollResult:
        connection = run.connection
        if self._permissions.recheck(run.connection_id, run.tokens, connection):
            run.progress = connection.poll_window(self._clock.now(), self._overlap, self._backfill)
        while True:
            page = self._gateway.changed_orders(
                run.tokens, run.progress.since, run.progress.next_offset, until=run.progress.started_at,
                point_of_sale=connection.import_point_of_sale,
                window_start=connection.poll_window_start(run.progress, self._overlap, self._backfill),
            )
            if ErpPermission.PEDIDOS in connection.missing_permissions:
                self._permissions.back(run.connection_id, connection, ErpPermission.PEDIDOS)
            following = following_window(run.progress, page)
            self._import_page(run, page)
            run.pages += 1
            now = self._clock.now()
            if following is None:
                # Not read again: a connection disconnected since the start of this poll still
                # gets its cursor, which a reconnection resumes from (its status and tokens are
                # not the progress store's to write).
                connection.finish_poll(run.progress, now)
                next_due = self.next_regular_run(run.started, now)
                self._progress.complete(connection, self._event(run, now), next_due)
                return self._completed(run, next_due)
            connection.advance_poll(following, following.next_offset)
            bounded = self._max_pages is not None and run.pages >= self._max_pages
            self._progress.checkpoint(connection, self._event(run, now) if bounded else None)
            run.progress = following
            if bounded or self._stop_requested():
                return PollResult(PollOutcome.RETRY, self._clock.now(), run.report, run.pages, "continua no próximo ciclo")

    @staticmethod
    def _event(run: _Run, now: datetime) -> ConnectionEvent:
        """The run's row of the history, carried by its last write (folded when quiet)."""
        report = run.report
        return ConnectionEvent.poll(run.connection_id, now, imported=report.imported - report.updated,
                                    updated=report.updated, failed=report.failed, api_calls=run.tokens.calls)

    @staticmethod
    def _completed(run: _Run, next_due: datetime) -> PollResult:
        # A poll that found nothing new is the common case (a connection polled every minute):
        # at INFO it would be a line per merchant per minute; the polls metric counts it anyway.
        report = run.report
        quiet = run.pages == 1 and not (report.imported or report.failed)
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "poll completed",
            extra={"connection_id": run.connection_id, "pages": run.pages, "imported": report.imported,
                   "unchanged": report.unchanged, "failed": report.failed, "ignored": report.ignored},
        )
        return PollResult(PollOutcome.COMPLETED, next_due, report, run.pages)

    def _import_page(self, run: _Run, page: OrderPage) -> None:
        """Read what is stored of the page's orders, fetch what the listing lacks, and import
        the page unless it changes nothing. An empty page (most polls) reads nothing."""
        items = wanted_items(page.items, run.connection)
        if not items:
            return
        erp_ids = [i.erp_order_id for i in items if isinstance(i, ErpOrder)]
        stored = self._progress.stored_page(run.connection, erp_ids, run.families)
        run.families = stored.families
        unknown = unknown_services(items, stored.families)
        if unknown:
            run.families = self._refresh_families(run.connection_id, run.tokens, stored.families, run.connection,
                                                  run.progress, unknown)
            stored = attrs.evolve(stored, families=run.families)
        items = self._attach_invoices(run, items, stored)
        items = with_totals(items, stored, self._totals(run.tokens, totals_to_fetch(items, stored)))
        plan = plan_order_page(self._carriers, items, stored)
        if plan.unchanged is not None:  # the day's overlap listed again, nothing new
            run.report.add(plan.unchanged)
            return
        settings = ImportSettings(run.connection, stored.mapping, run.families)
        run.report.add(self._import_order(ImportOrderCommand(run.connection_id, plan.to_import, settings)))

    def _attach_invoices(self, run: _Run, items: Sequence[Item], stored: StoredPage) -> list[Item]:
        """Fetch in one go the invoices the page needs; no transaction stays open during the
        call. Without the Notas Fiscais permission, the orders go on without them (this window
        is read again once it is back)."""
        wanted = invoices_to_fetch(items, stored)
        fetched: Mapping[int, Invoice | MalformedOrder] = {}
        if wanted and ErpPermission.NOTAS_FISCAIS in run.connection.missing_permissions:
            self._permissions.missing(run.connection_id, run.connection, ErpPermission.NOTAS_FISCAIS, run.progress)
        elif wanted:
            try:
                fetched = self._gateway.invoices_for(run.tokens, wanted)
            except PermissionMissing as exc:
                self._permissions.missing(run.connection_id, run.connection, exc.permission, run.progress)
        return with_invoices(items, stored, fetched)

    def _totals(self, tokens: ConnectionTokens, orders: Sequence[ErpOrder]) -> dict[int, Money | None]:
        """The totals of orders listed with an empty `valor`, from their details, one call each.
        A detail that fails leaves the total unknown; a rate limit stops the page (retried
        later, nothing lost) rather than storing an unknown total."""
        totals: dict[int, Money | None] = {}
        for order in orders:
            try:
                detail = self._gateway.order(tokens, order.erp_order_id)
            except RateLimited:
                raise
            except TransientFailure as exc:
                log.warning("order detail unavailable, total left unknown",
                            extra={"erp_order_id": order.erp_order_id, "reason": exc.message})
                continue
            totals[order.erp_order_id] = detail.total if isinstance(detail, ErpOrder) else None
        return totals

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
            self._permissions.missing(connection_id, connection, ErpPermission.FORMAS_ENVIO, progress)
            return {**known, **skipped}
        try:
            fetched = self._gateway.shipping_families(tokens)
        except PermissionMissing as exc:
            self._permissions.missing(connection_id, connection, exc.permission, progress)
            return {**known, **skipped}
        with self._uow() as uow:
            uow.shipping_families.save(connection_id, fetched)
            uow.commit()
        merged = dict(known)
        merged.update({f.service_id: f.family for f in fetched})
        return merged

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
                self._progress.fail(connection_id, exc.message, now)
            except TransientFailure:
                pass  # the message is a courtesy; the retry is what matters, and it is scheduled
        log.warning(
            "poll interrupted, progress kept",
            extra={"connection_id": connection_id, "reason": exc.message, "request_id": exc.request_id,
                   "pages": pages, "rate_limited": rate_limited},
        )
        return PollResult(PollOutcome.RETRY, retry_at, report, pages, exc.message)
