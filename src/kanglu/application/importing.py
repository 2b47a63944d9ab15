"""Importing a batch of ERP orders inside one unit of work (ImportOrder's engine), and what a
batch would change, decided without writing (the poll's page plan)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import attrs

from kanglu.application.ports import UnitOfWork
from kanglu.domain.carriers import Carrier, CarrierRegistry
from kanglu.domain.connections import ErpConnection
from kanglu.domain.customers import Customer, CustomerData
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.orders import ErpOrder, MalformedOrder, Order, import_signature
from kanglu.domain.situacoes import Action, StatusMapping
from kanglu.domain.tracking import OutboxMessage

log = logging.getLogger(__name__)


@attrs.define
class ImportReport:
    imported: int = 0  # created or changed
    updated: int = 0  # of those, the ones that were changed (already stored)
    unchanged: int = 0
    ignored: int = 0
    failed: int = 0
    tracking_requests: int = 0

    def add(self, other: ImportReport) -> None:
        for field in attrs.fields(ImportReport):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class _CustomerIndex:
    """The merchant's customers the batch can match, loaded in three queries and kept up to
    date as the batch creates and updates customers (two orders of one new customer in the
    same page make one customer)."""

    def __init__(self, uow: UnitOfWork, merchant_id: int, people: Sequence[CustomerData]) -> None:
        self._uow = uow
        self._merchant_id = merchant_id
        documents = {p.document.value for p in people if p.document}
        emails = {p.email for p in people if p.email}
        erp_ids = {p.erp_customer_id for p in people if p.erp_customer_id}
        self._by_document = uow.customers.by_documents(merchant_id, documents) if documents else {}
        self._by_email = uow.customers.by_emails(merchant_id, emails) if emails else {}
        self._by_erp_id = uow.customers.by_erp_ids(merchant_id, erp_ids) if erp_ids else {}

    def resolve(self, data: CustomerData) -> Customer:
        """Match by document, then e-mail, then the ERP's own customer id; a customer found by
        e-mail or ERP id but holding another document is somebody else."""
        found = self._by_document.get(data.document.value) if data.document else None
        if found is None:
            for candidate in (
                self._by_email.get(data.email) if data.email else None,
                self._by_erp_id.get(data.erp_customer_id) if data.erp_customer_id else None,
            ):
                if candidate is not None and (
                    candidate.document is None or data.document is None or candidate.document == data.document
                ):
                    found = candidate
                    break
        if found is None:
            found = Customer.from_data(self._merchant_id, data)
            self._uow.customers.add(found)
        else:
            found.update_from(data)
        self._index(found)
        return found

    def _index(self, customer: Customer) -> None:
        if customer.document:
            self._by_document.setdefault(customer.document.value, customer)
        if customer.email:
            self._by_email.setdefault(customer.email, customer)
        if customer.erp_customer_id:
            self._by_erp_id.setdefault(customer.erp_customer_id, customer)


class OrderImporter:
    """ImportOrder's engine: an idempotent upsert keyed by (connection, ERP order id).

    Works on a whole page at once so that a page costs a handful of queries, whatever its
    size. It never commits: the caller's unit of work makes the page one transaction.
    """

    def __init__(self, *, carriers: CarrierRegistry) -> None:
        self._carriers = carriers

    def import_batch(
        self,
        uow: UnitOfWork,
        connection: ErpConnection,
        mapping: StatusMapping,
        items: Sequence[ErpOrder | MalformedOrder],
        now: datetime,
        families: Mapping[int, int | None] | None = None,
    ) -> ImportReport:
        assert connection.id is not None
        report = ImportReport()
        latest, malformed = _latest_versions(items)
        erp_ids = list(latest) + [m.erp_order_id for m in malformed if m.erp_order_id is not None]
        # Stored orders are compared by their import signature first: the overlap of every poll
        # re-lists orders that have not changed, and those need no loading at all.
        stored = uow.orders.fingerprints(connection.id, latest) if latest else {}
        failures = uow.import_failures.for_erp_ids(connection.id, erp_ids) if erp_ids else {}

        to_write, report.ignored = _to_consider(latest, mapping, stored, families)
        # Read only when needed: ignored or unchanged orders need neither the carrier mappings
        # nor the customers.
        merchant_mappings = uow.carrier_mappings.for_merchant(connection.merchant_id) if to_write else {}
        changed, report.unchanged = _changed(self._carriers, to_write, stored, merchant_mappings)
        if changed:
            self._write(uow, connection, changed, set(stored), now, report)
        # Every order that reads well now resolves the failure it left, ignored ones included.
        for erp_id in latest:
            failure = failures.get(erp_id)
            if failure is not None:
                failure.resolve(now)

        # Items without an id are told apart by what they carry: the overlap of every poll
        # re-lists them, and each listing must not add a row.
        anonymous = uow.import_failures.open_without_id(connection.id) if any(
            m.erp_order_id is None for m in malformed) else []
        for bad in malformed:
            report.failed += 1
            if bad.erp_order_id is not None:
                failure = failures.get(bad.erp_order_id)
            else:
                failure = next((f for f in anonymous if _same_item(f, bad)), None)
            # Said once per order and reason: the overlap of every poll re-reads a broken order
            # until the merchant fixes it in the ERP.
            log.log(
                logging.WARNING if failure is None or failure.reason != bad.reason else logging.DEBUG,
                "order import refused",
                extra={"connection_id": connection.id, "erp_order_id": bad.erp_order_id, "reason": bad.reason},
            )
            if failure is None:
                failure = ImportFailure(
                    connection_id=connection.id,
                    erp_order_id=bad.erp_order_id,
                    reason=bad.reason,
                    raw=bad.raw,
                    first_seen_at=now,
                    last_seen_at=now,
                    number=bad.number,
                    customer_name=bad.customer_name,
                )
                uow.import_failures.add(failure)
                if bad.erp_order_id is not None:
                    failures[bad.erp_order_id] = failure
                else:
                    anonymous.append(failure)
            else:
                failure.seen_again(bad.reason, bad.raw, now, bad.number, bad.customer_name)
        return report

    @staticmethod
    def _write(
        uow: UnitOfWork,
        connection: ErpConnection,
        changed: Sequence[tuple[ErpOrder, Action, Carrier | None]],
        stored: set[int],
        now: datetime,
        report: ImportReport,
    ) -> None:
        """Create or update the orders that changed, their customers and tracking requests."""
        assert connection.id is not None
        again = [s.erp_order_id for s, _, _ in changed if s.erp_order_id in stored]
        existing = uow.orders.by_erp_ids(connection.id, again) if again else {}
        customers = _CustomerIndex(uow, connection.merchant_id, [s.customer for s, _, _ in changed if s.customer])
        for snapshot, action, carrier in changed:
            order = existing.get(snapshot.erp_order_id)
            if order is None:
                order = Order.new(connection.merchant_id, connection.id, snapshot, now)
                uow.orders.add(order)
            else:
                report.updated += 1
            customer = customers.resolve(snapshot.customer) if snapshot.customer else None
            requests = order.apply(snapshot, action, carrier, customer, now)
            for request in requests:
                uow.outbox.add(OutboxMessage(stream=order.outbox_stream, request=request, created_at=now, next_attempt_at=now))
            report.imported += 1
            report.tracking_requests += len(requests)


def report_without_writing(
    carriers: CarrierRegistry,
    mapping: StatusMapping,
    items: Sequence[ErpOrder | MalformedOrder],
    stored: Mapping[int, str],
    failing: Collection[int],
    carrier_mappings: Mapping[str, str],
    families: Mapping[int, int | None] | None = None,
) -> ImportReport | None:
    """What import_batch would report for `items` when it would write nothing: every order
    unchanged (`stored`: import signatures) or ignored, none malformed, none with an open
    failure to resolve (`failing`: their ERP ids). None when something must be written.

    The poll decides this from a read made before any write: a page that only re-lists
    unchanged orders (the day's overlap, Tiny's filter being by day) then costs its
    progress's write alone. Its inputs are read outside a transaction; the one poll of a
    connection that runs at a time is the only importer of its orders, so what it read is what
    import_batch would read."""
    latest, malformed = _latest_versions(items)
    if malformed:
        return None
    to_write, ignored = _to_consider(latest, mapping, stored, families)
    if any(erp_id in failing for erp_id in latest):
        return None
    changed, unchanged = _changed(carriers, to_write, stored, carrier_mappings)
    return None if changed else ImportReport(unchanged=unchanged, ignored=ignored)


def _changed(
    carriers: CarrierRegistry, to_write: Sequence[tuple[ErpOrder, Action]], stored: Mapping[int, str],
    carrier_mappings: Mapping[str, str],
) -> tuple[list[tuple[ErpOrder, Action, Carrier | None]], int]:
    """The orders whose import would change what is stored (with their carrier), and how
    many would not."""
    changed: list[tuple[ErpOrder, Action, Carrier | None]] = []
    unchanged = 0
    for snapshot, action in to_write:
        carrier = carriers.identify(snapshot.shipping, snapshot.effective_tracking_code, carrier_mappings)
        if stored.get(snapshot.erp_order_id) == import_signature(snapshot, action, carrier):
            unchanged += 1
        else:
            changed.append((snapshot, action, carrier))
    return changed, unchanged


def _same_item(failure: ImportFailure, bad: MalformedOrder) -> bool:
    """Whether an open failure without id records this item: the same payload, or the same
    order number and customer when the payload changed."""
    if failure.raw == bad.raw:
        return True
    return bad.number is not None and (failure.number, failure.customer_name) == (bad.number, bad.customer_name)


def _latest_versions(items: Sequence[ErpOrder | MalformedOrder]) -> tuple[dict[int, ErpOrder], list[MalformedOrder]]:
    """The last version of each order in the batch (a page can repeat an order that changed
    while we were paging), and the malformed items. A malformed version after a good one in
    the same batch means the order is broken now."""
    latest: dict[int, ErpOrder] = {}
    malformed: list[MalformedOrder] = []
    for item in items:
        if isinstance(item, MalformedOrder):
            malformed.append(item)
        else:
            latest[item.erp_order_id] = item
    for bad in malformed:
        if bad.erp_order_id is not None:
            latest.pop(bad.erp_order_id, None)
    return latest, malformed


def _to_consider(
    latest: Mapping[int, ErpOrder],
    mapping: StatusMapping,
    stored: Mapping[int, str],
    families: Mapping[int, int | None] | None,
) -> tuple[list[tuple[ErpOrder, Action]], int]:
    """The orders to compare with what is stored, each with its situação's action and its
    shipping family filled in from the cache; and how many are ignored (new orders in a
    situação the merchant does not track)."""
    to_write: list[tuple[ErpOrder, Action]] = []
    ignored = 0
    for snapshot in latest.values():
        service_id = snapshot.shipping.service_id
        if families and service_id is not None and service_id in families and snapshot.shipping.family is None:
            snapshot = attrs.evolve(snapshot, shipping=snapshot.shipping.with_family(families[service_id]))
        action = mapping.action_for(snapshot.situacao)
        if snapshot.erp_order_id not in stored and action is Action.IGNORE:
            ignored += 1
            continue
        to_write.append((snapshot, action))
    return to_write, ignored
