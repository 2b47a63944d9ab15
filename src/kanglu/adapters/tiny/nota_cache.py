"""What one process knows of an account's notas fiscais, and what it keeps in the database.

In memory (AccountNotas): the date windows of GET /notas read so far and the notas found, by
order. In the database (an InvoiceCheckStore, adapters/sql/invoice_checks.py): how far the
latest window was read, and what each order's last look found, so that another process, or
this one after a restart, knows it too. invoices.py explains how the finder uses both.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Protocol

import attrs

from kanglu.adapters.tiny.notas import is_authorised
from kanglu.adapters.tiny.paging import PAGE_SIZE
from kanglu.adapters.tiny.wire import NotaWire
from kanglu.domain.orders import ErpOrder


@attrs.frozen
class SavedListing:
    """How far the latest (open-ended) window of an account's notas was read."""

    start: date
    started_at: datetime  # when this window was begun from scratch: its generation
    read_offset: int


@attrs.frozen
class InvoiceCheck:
    """What one order's last look at the notas found, in one generation of the window: its
    latest authorised nota (the raw listing item), or none among the window's notas before
    `checked_upto`."""

    checked_upto: int
    nota: object | None = None


class InvoiceCheckStore(Protocol):
    """Where the finder keeps what it learnt across processes (adapters/sql/invoice_checks.py).
    Best effort: a store that cannot answer returns nothing and the finder reads again."""

    def listing(self, key: str) -> SavedListing | None: ...

    def checks(self, key: str, started_at: datetime, erp_ids: Collection[int]) -> dict[int, InvoiceCheck]: ...

    def remember(
        self,
        key: str,
        started_at: datetime,
        listing: SavedListing | None,
        checks: Mapping[int, InvoiceCheck],
        advance: tuple[int, int] | None,
    ) -> None:
        """In one transaction: keep `listing` (unless a newer generation is kept already; a
        newer one drops the older generations' checks), upsert `checks`, and with `advance`
        = (since, upto) move the checks without a nota whose `checked_upto` is in
        [since, upto) to `upto`."""
        ...


def differs(known: InvoiceCheck | None, check: InvoiceCheck) -> bool:
    """Whether `check` tells more than what is stored: a nota (another one), or a later end."""
    if known is None:
        return True
    if check.nota is not None or known.nota is not None:
        return _nota_id(known.nota) != _nota_id(check.nota)
    return check.checked_upto > known.checked_upto


def _nota_id(raw: object) -> object:
    return raw.get("id") if isinstance(raw, dict) else raw


def creation_day(order: ErpOrder) -> date | None:
    created = order.created_at
    if isinstance(created, datetime):
        return created.date()
    return created


@attrs.define
class NotaWindow:
    """One listing of GET /notas by creation day, read page by page."""

    start: date
    end: date | None  # None: open-ended, the latest window
    offset: int = 0
    total: int | None = None
    exhausted_at: float | None = None  # when it was read to the end

    def pages_left(self) -> int:
        if self.total is None or self.offset >= self.total:
            return 1
        return math.ceil((self.total - self.offset) / PAGE_SIZE)


@attrs.define(eq=False)
class AccountNotas:
    """What is known of one account's notas, for a short while."""

    created_at: float
    windows: list[NotaWindow] = attrs.Factory(list)
    # order id -> nota id -> (the nota, its raw payload when authorised, for error reports)
    notas: dict[int, dict[int, tuple[NotaWire, object]]] = attrs.Factory(dict)
    asked_one_by_one: set[int] = attrs.Factory(set)
    rent: int = 0  # calls spent asking one by one since the cache began
    lock: threading.Lock = attrs.Factory(threading.Lock)
    # With a store: the window's generation, the offset of the open-ended window from which
    # on the notas are in memory (those before it were read by another process, or before a
    # restart: the orders' checks tell what they found), the checks known to be stored, and
    # the orders whose checks were read.
    started_at: datetime | None = None
    floor: int = 0
    saved_offset: int | None = None
    checks: dict[int, InvoiceCheck] = attrs.Factory(dict)
    consulted: set[int] = attrs.Factory(set)
    unsaved: set[int] = attrs.Factory(set)  # orders with notas read since the last save

    def tail(self) -> NotaWindow | None:
        return next((w for w in self.windows if w.end is None), None)

    def add(self, order_id: int, nota: NotaWire, raw: object, *, stored: bool = False) -> None:
        self.notas.setdefault(order_id, {})[nota.id] = (nota, raw if is_authorised(nota) else None)
        if not stored:
            self.unsaved.add(order_id)

    def has_authorised(self, order_id: int) -> bool:
        return any(is_authorised(n) for n, _ in self.notas.get(order_id, {}).values())

    def latest_authorised(self, order_id: int) -> tuple[NotaWire, object] | None:
        """The order's authorised nota with the highest id, and its raw payload."""
        authorised = [(nota, raw) for nota, raw in self.notas.get(order_id, {}).values() if is_authorised(nota)]
        return max(authorised, key=lambda pair: pair[0].id) if authorised else None

    def covered(self, since: date) -> bool:
        """Whether every window from `since` on has been read to the end."""
        windows = sorted(self.windows, key=lambda w: w.start)
        reach = since
        for window in windows:
            if window.end is not None and window.end < reach:
                continue
            if window.start > reach or window.exhausted_at is None:
                return False
            if window.end is None:
                return True
            reach = window.end + timedelta(days=1)
        return False

    # -- what is worth storing ---------------------------------------------------------------

    def found_checks(self, upto: int) -> dict[int, InvoiceCheck]:
        """Every authorised nota read since the last save, as its order's check: an order whose
        nota was read while looking for others is then found by any process."""
        checks: dict[int, InvoiceCheck] = {}
        for erp_id in self.unsaved:
            latest = self.latest_authorised(erp_id)
            if latest is not None:
                checks[erp_id] = InvoiceCheck(upto, latest[1])
        return checks

    def vouched_checks(self, tail: NotaWindow, orders: Iterable[ErpOrder]) -> dict[int, InvoiceCheck]:
        """The orders the latest window vouches have no authorised nota before its current end:
        asked for by id (every nota they had then), or every nota since their creation read."""
        checks: dict[int, InvoiceCheck] = {}
        for order in orders:
            erp_id = order.erp_order_id
            day = creation_day(order)
            if self.has_authorised(erp_id) or day is None or day - timedelta(days=1) < tail.start:
                continue  # found (its check holds the nota), or not the latest window's to vouch for
            if erp_id in self.asked_one_by_one or (
                    tail.exhausted_at is not None and self.covered(day - timedelta(days=1))):
                checks[erp_id] = InvoiceCheck(tail.offset)
        return checks

    def advance_checks(self, since: int, upto: int) -> None:
        """The checks without a nota that stopped in [since, upto) now reach `upto`: every nota
        between was read into memory, and none was theirs."""
        for erp_id, check in list(self.checks.items()):
            if check.nota is None and since <= check.checked_upto < upto:
                self.checks[erp_id] = InvoiceCheck(upto)
