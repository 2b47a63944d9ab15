"""Finding orders' invoices (notas fiscais) in pages of GET /notas, with few calls.

The order listing does not carry the invoice. Asking for it order by order would cost a call
per order, so the finder reads the account's notas in date windows instead (`dataInicial` =
the day before the orders' creation; a nota is never issued before its order) and matches
`origem.id` to the order id. The latest window has no `dataFinal`: listed by id, new notas
arrive at its end, so reading on from where it stopped finds them whatever the date on
either side's clock. What it reads is kept per account for a short while, so
the pages of one poll (and of a 10,000-order first import) share the same reads.

What spares a quiet poll from reading the notas again is kept in the database too (an
`InvoiceCheckStore`): how far the latest window was read, and what each order's last look
found (its latest authorised nota, or none up to which position). A process that starts
(a restart, another worker) then knows what the one that read them knew: a quiet poll costs
the same cold or warm. The window is read from scratch once it is older than `reread_after`
(an hour by default): what changes on a nota already read (a tracking code added to it) is
found then.

Reading stops when it stops paying: pages are read while they resolve orders, or while the rest
of the window costs no more than asking one by one would. The orders still open are then asked
for one by one (`GET /notas?idVenda=`) — the classic rent-or-buy choice, which keeps the cost
within twice the best of the two, whatever the account looks like.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from kanglu.adapters.tiny.http import Endpoint, TinyHttp
from kanglu.adapters.tiny.nota_cache import (
    AccountNotas,
    InvoiceCheck,
    InvoiceCheckStore,
    NotaWindow,
    SavedListing,
    creation_day,
    differs,
)
from kanglu.adapters.tiny.notas import invoice_from_nota, nota_from_payload, order_id_of
from kanglu.adapters.tiny.paging import PAGE_SIZE, next_offset
from kanglu.application.ports import TokenSource
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder

# The store's types are imported from here by the SQL adapter (adapters/sql/invoice_checks.py).
__all__ = ["NOTAS", "InvoiceCheck", "InvoiceCheckStore", "InvoiceFinder", "SavedListing"]

log = logging.getLogger(__name__)

NOTAS = Endpoint("GET", "/notas")
OUTGOING = "S"  # tipo S (saída): the notas a merchant issues for its sales
# A window that never ends (an answer without totals that keeps sending full pages) stops here.
MAX_WINDOW_ITEMS = 200_000


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
        store: InvoiceCheckStore | None = None,
        wall_clock: Callable[[], float] = time.time,
        reread_after: float = 3600.0,
    ) -> None:
        self._http = http
        self._store = store
        self._wall_clock = wall_clock
        self._reread_after = reread_after
        self._ttl = ttl
        self._tail_recheck = tail_recheck
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, AccountNotas] = {}
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
            if self._store is not None and open_orders:
                self._consult(tokens.key, account, open_orders)
                open_orders = {i: o for i, o in open_orders.items() if not account.has_authorised(i)}
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
            if self._store is not None:
                self._remember(tokens.key, account, wanted.values())
            return self._invoices(account, wanted)

    # -- what the database remembers -------------------------------------------------------

    def _consult(self, key: str, account: AccountNotas, open_orders: Mapping[int, ErpOrder]) -> None:
        """The stored checks of orders this process has not looked at yet: a nota found
        before is known again; an order found without one needs the window's notas only
        from where its check stopped (the window is read again from there, or from its
        start for an order never checked)."""
        assert self._store is not None and account.started_at is not None
        new = [erp_id for erp_id in open_orders if erp_id not in account.consulted]
        if not new:
            return
        checks = self._store.checks(key, account.started_at, new)
        account.consulted.update(new)
        account.checks.update(checks)
        tail = account.tail()
        lowest = account.floor
        for erp_id in new:
            check = checks.get(erp_id)
            nota = nota_from_payload(check.nota) if check is not None and check.nota is not None else None
            if nota is not None:
                account.add(erp_id, nota, check.nota, stored=True)  # type: ignore[union-attr]
                continue
            day = creation_day(open_orders[erp_id])
            if tail is None or day is None or day - timedelta(days=1) < tail.start:
                continue  # not the latest window's: read as a process without a store would
            lowest = min(lowest, check.checked_upto if check is not None else 0)
        if tail is not None and lowest < account.floor:
            # Read the latest window again from there: its notas before `floor` are not in
            # this process's memory.
            tail.offset, tail.total, tail.exhausted_at = lowest, None, None
            account.floor = lowest

    def _remember(self, key: str, account: AccountNotas, orders: Iterable[ErpOrder]) -> None:
        """Store, in one transaction and only what changed: how far the latest window was
        read; every authorised nota in memory, as its order's check; the orders of this look
        that the window vouches have none yet; and, when the window's end moved, the orders
        found without a nota before (checked from `floor` on, whose notas since are all in
        memory) now checked up to the new end."""
        assert self._store is not None and account.started_at is not None
        tail = account.tail()
        if tail is None:
            return
        checks = {**account.found_checks(tail.offset), **account.vouched_checks(tail, orders)}
        changed = {erp_id: check for erp_id, check in checks.items() if differs(account.checks.get(erp_id), check)}
        moved = account.saved_offset != tail.offset
        account.unsaved.clear()
        if not changed and not moved:
            return
        advance = (account.floor, tail.offset) if moved and tail.exhausted_at is not None else None
        listing = SavedListing(tail.start, account.started_at, tail.offset) if moved else None
        self._store.remember(key, account.started_at, listing, changed, advance)
        account.checks.update(changed)
        account.saved_offset = tail.offset
        if advance is not None:
            account.advance_checks(*advance)

    # -- reading -------------------------------------------------------------------------

    def _read_windows(self, tokens: TokenSource, account: AccountNotas, since: Mapping[int, date]) -> None:
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
    def _cover(account: AccountNotas, start: date) -> None:
        """Windows reaching from `start` on, contiguous with those already there."""
        if not account.windows:
            account.windows.append(NotaWindow(start, None))
            return
        earliest = min(w.start for w in account.windows)
        if start < earliest:
            account.windows.append(NotaWindow(start, earliest - timedelta(days=1)))
            account.windows.sort(key=lambda w: w.start)

    def _open_windows(self, account: AccountNotas, start: date) -> list[NotaWindow]:
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

    def _read_page(self, tokens: TokenSource, account: AccountNotas, window: NotaWindow) -> None:
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

    def _ask_one(self, tokens: TokenSource, account: AccountNotas, erp_order_id: int) -> None:
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
    def _invoices(account: AccountNotas, wanted: Iterable[int]) -> dict[int, Invoice | MalformedOrder]:
        """Each order's latest authorised nota, as an Invoice (with its warnings)."""
        result: dict[int, Invoice | MalformedOrder] = {}
        for erp_id in wanted:
            latest = account.latest_authorised(erp_id)
            if latest is not None:
                # A corrupt key or code is a warning on the invoice, never a dropped order.
                result[erp_id] = invoice_from_nota(latest[0])
        return result

    def _account(self, key: str) -> AccountNotas:
        with self._lock:
            now = self._clock()
            if now - self._swept_at > self._ttl:
                self._accounts = {k: a for k, a in self._accounts.items() if now - a.created_at <= self._ttl}
                self._swept_at = now
            account = self._accounts.get(key)
            if account is not None and account.started_at is not None and self._outdated(account.started_at):
                account = None
            if account is None or now - account.created_at > self._ttl:
                account = self._accounts[key] = self._fresh(key, now)
            return account

    def _outdated(self, started_at: datetime) -> bool:
        return self._wall_clock() - started_at.timestamp() > self._reread_after

    def _fresh(self, key: str, now: float) -> AccountNotas:
        """An account as this process first sees it: with a store, where the latest window's
        reading stands (its notas, and the orders' checks, are read when needed)."""
        account = AccountNotas(created_at=now)
        if self._store is None:
            return account
        saved = self._store.listing(key)
        if saved is None or self._outdated(saved.started_at):
            account.started_at = datetime.fromtimestamp(self._wall_clock(), UTC)
            return account
        # Read up to read_offset, long enough ago that its end is looked at again.
        account.windows.append(NotaWindow(saved.start, None, offset=saved.read_offset,
                                       exhausted_at=now - self._tail_recheck - 1))
        account.started_at, account.floor, account.saved_offset = saved.started_at, saved.read_offset, saved.read_offset
        return account
