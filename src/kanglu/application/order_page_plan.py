"""Planning a poll's page: what it changes, which invoices and totals to fetch, what to write.

Pure functions: the poll (PollOrdersByStatus) reads, calls the ERP and writes; everything it
decides in between is decided here, from the listed page, what is stored, the mapping, the
clock's readings and an injected source of randomness."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from kanglu.application.importing import ImportReport, report_without_writing
from kanglu.application.ports import OrderPage, StoredPage
from kanglu.domain.carriers import CarrierRegistry
from kanglu.domain.connections import ErpConnection, PollProgress
from kanglu.domain.money import Money
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder
from kanglu.domain.situacoes import INVOICED_SITUACOES, Action

Item = ErpOrder | MalformedOrder


def following_window(progress: PollProgress, page: OrderPage) -> PollProgress | None:
    """Where the window goes on after this page: further in the same listing, or from a later
    instant (the ERP reads some windows in several listings); None when it was read to the end."""
    if page.next_offset is not None:
        return PollProgress(progress.since, progress.started_at, page.next_offset)
    if page.next_since is not None:
        return PollProgress(page.next_since, progress.started_at, 0)
    return None


def wanted_items(items: Sequence[Item], connection: ErpConnection) -> list[Item]:
    """The page without point-of-sale (PDV) sales, unless the merchant imports them: the ERP is
    asked to leave them out, and one that lists them anyway is not obeyed blindly."""
    if connection.import_point_of_sale:
        return list(items)
    return [i for i in items if not (isinstance(i, ErpOrder) and i.point_of_sale)]


def unknown_services(items: Sequence[Item], families: Mapping[int, int | None]) -> set[int]:
    """Shipping services the page uses and the family cache has never seen."""
    return {i.shipping.service_id for i in items
            if isinstance(i, ErpOrder) and i.shipping.service_id is not None} - families.keys()


def invoices_to_fetch(items: Sequence[Item], stored: StoredPage) -> list[ErpOrder]:
    """The orders whose invoice the ERP is asked for: those that should have one by now
    (invoiced situações, tracked or already stored) and have none stored, or have one without
    a tracking code while the order has none either (the code often appears on the NF-e
    after the import)."""
    known = _stored_invoices(stored)
    wanted: list[ErpOrder] = []
    for order in items:
        if isinstance(order, MalformedOrder) or order.invoice is not None:
            continue
        stale = (order.tracking_code is None and order.erp_order_id in known
                 and known[order.erp_order_id].tracking_code is None)
        if ((order.erp_order_id not in known or stale) and order.situacao in INVOICED_SITUACOES
                and (stored.mapping.action_for(order.situacao) is not Action.IGNORE
                     or order.erp_order_id in stored.orders)):
            wanted.append(order)
    return wanted


def with_invoices(items: Sequence[Item], stored: StoredPage, fetched: Mapping[int, Invoice | MalformedOrder]) -> list[Item]:
    """Attach invoices: the one just fetched, else the one already stored.

    A stored invoice stays with its order whatever the situação: an order cancelled or moved
    to an unmapped situação keeps the NF-e it was imported with (the listing never carries
    the invoice, so leaving it off the snapshot would erase it, and with it a tracking code
    only the invoice knew). An invoice that cannot be read makes its order unreadable."""
    known = _stored_invoices(stored)
    result: list[Item] = []
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


def totals_to_fetch(items: Sequence[Item], stored: StoredPage) -> list[ErpOrder]:
    """Orders listed with an empty `valor` whose total only their detail tells: not stored
    with one (the day's overlap lists them again), and not new orders that will be ignored
    (their total is not worth a call)."""
    wanted: list[ErpOrder] = []
    for item in items:
        if isinstance(item, MalformedOrder) or not item.lacks_total:
            continue
        known = stored.orders.get(item.erp_order_id)
        if known is not None and known.total is not None:
            continue
        if known is None and stored.mapping.action_for(item.situacao) is Action.IGNORE:
            continue
        wanted.append(item)
    return wanted


def with_totals(items: Sequence[Item], stored: StoredPage, details: Mapping[int, Money | None]) -> list[Item]:
    """Fill in the totals: the one stored, else the detail's. An order whose detail failed
    keeps an unknown total (None), never zero; its next listing asks again."""
    result: list[Item] = []
    for item in items:
        if isinstance(item, MalformedOrder) or not item.lacks_total:
            result.append(item)
            continue
        known = stored.orders.get(item.erp_order_id)
        total = known.total if known is not None and known.total is not None else details.get(item.erp_order_id)
        result.append(item.with_total(total, None) if total is not None else item)
    return result


@attrs.frozen
class OrderPagePlan:
    """What a page writes: its orders to import (empty: nothing changed, the progress alone is
    written) and, when nothing is imported, what the page counts as unchanged or ignored."""

    to_import: tuple[Item, ...]
    unchanged: ImportReport | None


def plan_order_page(carriers: CarrierRegistry, items: Sequence[Item], stored: StoredPage) -> OrderPagePlan:
    """The page's orders (invoices and totals attached) against what is stored: a page that
    only lists again orders unchanged or ignored writes no order (the day's overlap, Tiny's
    filter being by day); any other page is imported whole, idempotently."""
    if not items:
        return OrderPagePlan((), ImportReport())
    fingerprints = {erp_id: order.fingerprint for erp_id, order in stored.orders.items()}
    unchanged = report_without_writing(carriers, stored.mapping, items, fingerprints, stored.failing,
                                       stored.carrier_mappings, stored.families)
    if unchanged is not None:
        return OrderPagePlan((), unchanged)
    return OrderPagePlan(tuple(items), None)


def next_regular_run(started: datetime, now: datetime, interval: timedelta, rng: random.Random) -> datetime:
    """The next poll: one interval after this one started, up to 10 % earlier so that
    thousands of connections spread out. Never later: an order that changes just after
    a poll read the listing is read by the next one within one interval."""
    early = timedelta(seconds=rng.uniform(0, interval.total_seconds() * 0.1))
    return max(now, started + interval - early)


def _stored_invoices(stored: StoredPage) -> dict[int, Invoice]:
    return {erp_id: order.invoice for erp_id, order in stored.orders.items() if order.invoice is not None}
