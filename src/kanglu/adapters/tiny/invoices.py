"""Finding orders' invoices (notas fiscais) in pages of GET /notas, with few calls.

The order listing does not carry the invoice. Asking for it order by order would cost a call
per order, so the finder reads the account's notas in date windows instead (`dataInicial` =
the day before the orders' creation; a nota is never issued before its order) and matches
`origem.id` to the order id. The latest window has no `dataFinal`: listed by id, new notas
arrive at its end, so reading on from where it stopped finds them whatever the date on
either side's clock. What it reads is kept per account for a short while, so
the pages of one poll (and of a 10,000-order first import) share the same reads.

Reading stops when it stops paying: pages are read while they resolve orders, or while the rest
of the window costs no more than asking one by one would. The orders still open are then asked
for one by one (`GET /notas?idVenda=`) — the classic rent-or-buy choice, which keeps the cost
within twice the best of the two, whatever the account looks like.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

import attrs

from kanglu.adapters.tiny.conversion import (
    NotaWire,
    invoice_from_nota,
    is_authorised,
    next_offset,
    nota_from_payload,
    order_id_of,
)
from kanglu.adapters.tiny.http import Endpoint, TinyHttp
from kanglu.application.ports import TokenSource
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder

log = logging.getLogger(__name__)

NOTAS = Endpoint("GET", "/notas")
PAGE_SIZE = 100
OUTGOING = "S"  # tipo S (saída): the notas a merchant issues for its sales
# A window that never ends (an answer without totals that keeps sending full pages) stops here.
MAX_WINDOW_ITEMS = 200_000


def creation_day(order: ErpOrder) -> date | None:
    created = order.created_at
    if isinstance(created, datetime):
        return created.date()
    return created


@attrs.define
class _Window:
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
class _AccountNotas:
    """What is known of one account's notas, for a short while."""

    created_at: float
    windows: list[_Window] = attrs.Factory(list)
    # order id -> nota id -> (the nota, its raw payload when authorised, for error reports)
    notas: dict[int, dict[int, tuple[NotaWire, object]]] = attrs.Factory(dict)
    asked_one_by_one: set[int] = attrs.Factory(set)
    rent: int = 0  # calls spent asking one by one since the cache began
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def add(self, order_id: int, nota: NotaWire, raw: object) -> None:
        self.notas.setdefault(order_id, {})[nota.id] = (nota, raw if is_authorised(nota) else None)

    def has_authorised(self, order_id: int) -> bool:
        return any(is_authorised(n) for n, _ in self.notas.get(order_id, {}).values())

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


class InvoiceFinder:
    """The invoices of a batch of orders, read in pages and cached per account. Thread-safe:
    one lock per account (a second thread waits for the reads of the first and reuses them)."""

    def __init__(
        self,
        http: TinyHttp,
        *,
        ttl: float = 900.0,
        tail_recheck: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._ttl = ttl
        self._tail_recheck = tail_recheck
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, _AccountNotas] = {}
        self._swept_at = clock()

    def find(self, tokens: TokenSource, orders: Sequence[ErpOrder]) -> dict[int, Invoice | MalformedOrder]:
        if not orders:
            return {}
        account = self._account(tokens.key)
        with account.lock:
            wanted = {o.erp_order_id: o for o in orders}
            open_orders = {
                erp_id: order
                for erp_id, order in wanted.items()
                if not account.has_authorised(erp_id) and erp_id not in account.asked_one_by_one
            }
            days = {erp_id: creation_day(o) for erp_id, o in open_orders.items()}
            dated = {erp_id: day - timedelta(days=1) for erp_id, day in days.items() if day is not None}
            if dated:
                self._read_windows(tokens, account, dated)
            for erp_id in open_orders:
                if account.has_authorised(erp_id):
                    continue
                if erp_id in dated and account.covered(dated[erp_id]):
                    continue  # read everything since its creation: it has no authorised nota yet
                self._ask_one(tokens, account, erp_id)
            return self._invoices(account, wanted)

    # -- reading -------------------------------------------------------------------------

    def _read_windows(self, tokens: TokenSource, account: _AccountNotas, since: Mapping[int, date]) -> None:
        start = min(since.values())
        self._cover(account, start)
        pages_read = 0
        resolved_last = 0
        while True:
            unresolved = [erp_id for erp_id in since if not account.has_authorised(erp_id)]
            if not unresolved:
                return
            windows = self._open_windows(account, start)
            if not windows:
                return
            pages_left = sum(w.pages_left() for w in windows)
            productive = pages_read == 0 or resolved_last > 0
            # Rent or buy: the rest of the windows costs `pages_left`; asking one by one costs
            # a call per open order, on top of what was already spent that way.
            cheaper_to_read = pages_left <= len(unresolved) + account.rent
            if not (productive or cheaper_to_read):
                return
            self._read_page(tokens, account, windows[0])
            pages_read += 1
            resolved_last = sum(1 for erp_id in unresolved if account.has_authorised(erp_id))

    @staticmethod
    def _cover(account: _AccountNotas, start: date) -> None:
        """Windows reaching from `start` on, contiguous with those already there."""
        if not account.windows:
            account.windows.append(_Window(start, None))
            return
        earliest = min(w.start for w in account.windows)
        if start < earliest:
            account.windows.append(_Window(start, earliest - timedelta(days=1)))
            account.windows.sort(key=lambda w: w.start)

    def _open_windows(self, account: _AccountNotas, start: date) -> list[_Window]:
        now = self._clock()
        result = []
        for window in account.windows:
            if window.end is not None and window.end < start:
                continue
            if window.exhausted_at is not None and window.end is None and now - window.exhausted_at > self._tail_recheck:
                # Notas issued since it was read land at its end: read on from where it stopped.
                window.exhausted_at = None
            if window.exhausted_at is None:
                result.append(window)
        return result

    def _read_page(self, tokens: TokenSource, account: _AccountNotas, window: _Window) -> None:
        params = {
            "tipo": OUTGOING,
            "dataInicial": window.start.isoformat(),
            "dataFinal": window.end.isoformat() if window.end is not None else None,
            "orderBy": "asc",
            "limit": PAGE_SIZE,
            "offset": window.offset,
        }
        items, total = self._items(tokens, params)
        for raw in items:
            nota = nota_from_payload(raw)
            order_id = order_id_of(nota) if nota is not None else None
            if nota is not None and order_id is not None:
                account.add(order_id, nota, raw)
        following = next_offset(window.offset, len(items), PAGE_SIZE, total)
        window.total = total
        window.offset += len(items)
        if following is None or window.offset >= MAX_WINDOW_ITEMS:
            window.exhausted_at = self._clock()

    def _ask_one(self, tokens: TokenSource, account: _AccountNotas, erp_order_id: int) -> None:
        """The notas of one order, by the listing's own filter (one call)."""
        items, _ = self._items(tokens, {"idVenda": erp_order_id, "tipo": OUTGOING, "limit": PAGE_SIZE})
        account.rent += 1
        account.asked_one_by_one.add(erp_order_id)
        for raw in items:
            nota = nota_from_payload(raw)
            # Asked by order id: a nota without an origin still belongs to it.
            if nota is not None and order_id_of(nota) in (None, erp_order_id):
                account.add(erp_order_id, nota, raw)

    def _items(self, tokens: TokenSource, params: Mapping[str, object]) -> tuple[list[object], int | None]:
        return self._http.get_listing(tokens, NOTAS, params)

    # -- answering -----------------------------------------------------------------------

    @staticmethod
    def _invoices(account: _AccountNotas, wanted: Iterable[int]) -> dict[int, Invoice | MalformedOrder]:
        """Each order's latest authorised nota, as an Invoice (with its warnings)."""
        result: dict[int, Invoice | MalformedOrder] = {}
        for erp_id in wanted:
            authorised = [(nota, raw) for nota, raw in account.notas.get(erp_id, {}).values() if is_authorised(nota)]
            if not authorised:
                continue
            nota, _ = max(authorised, key=lambda pair: pair[0].id)
            # A corrupt key or code is a warning on the invoice, never a dropped order.
            result[erp_id] = invoice_from_nota(nota)
        return result

    def _account(self, key: str) -> _AccountNotas:
        with self._lock:
            now = self._clock()
            if now - self._swept_at > self._ttl:
                self._accounts = {k: a for k, a in self._accounts.items() if now - a.created_at <= self._ttl}
                self._swept_at = now
            account = self._accounts.get(key)
            if account is None or now - account.created_at > self._ttl:
                account = self._accounts[key] = _AccountNotas(created_at=now)
            return account

    def forget(self, key: str | None = None) -> None:
        """Drop what is cached (for one account, or all)."""
        with self._lock:
            if key is None:
                self._accounts.clear()
            else:
                self._accounts.pop(key, None)
