"""Tiny's API v3 as the ErpGateway port: listing-first, invoices in pages, calls counted."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta

import attrs
import httpx

from kanglu.adapters.tiny import conversion
from kanglu.adapters.tiny.http import (
    DEFAULT_TIMEOUT,
    DEFAULT_USER_AGENT,
    CallHook,
    CallStats,
    Endpoint,
    RetryPolicy,
    BadRequest,
    TinyHttp,
)
from kanglu.adapters.tiny.invoices import NOTAS, InvoiceCheckStore, InvoiceFinder
from kanglu.adapters.tiny.paging import PAGE_SIZE, next_offset
from kanglu.adapters.tiny.ratelimit import RateLimitPacer
from kanglu.adapters.tiny.updates import SAO_PAULO, UpdateWalks, day_start, filter_value, sao_paulo_day
from kanglu.application.ports import OrderPage, TokenSource
from kanglu.application.errors import PermissionMissing
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder
from kanglu.domain.permissions import ErpPermission
from kanglu.domain.shipping import ShippingFamily

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.tiny.com.br/public-api/v3"
__all__ = ["DEFAULT_API_URL", "SAO_PAULO", "TinyGateway", "sao_paulo_day"]

INFO = Endpoint("GET", "/info")
PEDIDOS = Endpoint("GET", "/pedidos")
PEDIDO = Endpoint("GET", "/pedidos/{idPedido}")
FORMAS_ENVIO = Endpoint("GET", "/formas-envio")
MAX_FAMILY_PAGES = 50  # 5,000 shipping services: far beyond any account
# The order in Tiny's web app (ERP "vendas" module), for the merchant to open and correct it.
WEB_ORDER_URL = "https://erp.tiny.com.br/vendas#edit/{id}"


def order_web_url(erp_order_id: int | None) -> str | None:
    return WEB_ORDER_URL.format(id=erp_order_id) if erp_order_id else None


class TinyGateway:
    """The ErpGateway over Tiny's API v3. One instance serves every connection and thread."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        user_agent: str = DEFAULT_USER_AGENT,
        stats: CallStats | None = None,
        on_call: CallHook | None = None,
        pacer: RateLimitPacer | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        cache_ttl: float = 900.0,
        families_ttl: float = 600.0,
        invoice_checks: InvoiceCheckStore | None = None,
        wall_clock: Callable[[], float] = time.time,
        invoice_reread_after: float = 3600.0,
    ) -> None:
        self._http = TinyHttp(
            transport, api_url, timeout=timeout, user_agent=user_agent, stats=stats or CallStats(on_call), pacer=pacer or RateLimitPacer(sleep=sleep, clock=clock),
            policy=policy, sleep=sleep,
        )
        # With `invoice_checks` (the database), what spares a quiet poll from reading the notas
        # again holds across restarts and worker processes, not only in this one's memory.
        self._invoices = InvoiceFinder(self._http, ttl=cache_ttl, clock=clock, store=invoice_checks,
                                       wall_clock=wall_clock, reread_after=invoice_reread_after)
        self._walks = UpdateWalks()
        self._clock = clock
        self._families_ttl = families_ttl
        self._families_lock = threading.Lock()
        self._families: dict[str, tuple[float, list[ShippingFamily]]] = {}

    # -- the port ------------------------------------------------------------------------

    def account_name(self, tokens: TokenSource) -> str | None:
        answer = self._http.get(tokens, INFO)
        return conversion.account_name(answer.body)

    def changed_orders(
        self, tokens: TokenSource, since: datetime, offset: int, *, until: datetime | None = None,
        point_of_sale: bool = True, window_start: datetime | None = None,
    ) -> OrderPage:
        """A page of the orders changed from `since` on, by id, one São Paulo day at a time up to
        `until`'s day (updates.py: complete whatever `dataAtualizacao` means). The page says where
        to go on: `next_offset` in the same day, else `next_since` (the next day's midnight).
        Without `point_of_sale`, PDV sales are left out by Tiny's own filter."""
        day = sao_paulo_day(since)
        until = until if until is not None else since
        until_day = sao_paulo_day(until)
        origin = None if point_of_sale else 0
        at_midnight = filter_value(since, True) == filter_value(since, False)
        # Reached from the day before, which the window read to its end (from an earlier start).
        walked = at_midnight and window_start is not None and since > window_start
        with_time = self._walks.sends_time(tokens.key)
        try:
            page = self._changed_page(tokens, filter_value(since, with_time), offset, origin, walked)
        except BadRequest:
            if not with_time or at_midnight:
                raise
            log.info("tiny refused a time in dataAtualizacao: asking by day from now on", extra={"account": tokens.key})
            self._walks.time_refused(tokens.key)
            page = self._changed_page(tokens, filter_value(since, False), offset, origin, walked)
        ids = [i.erp_order_id for i in page.items if i.erp_order_id is not None]
        seen = self._walks.record(tokens.key, day, until, walked, offset, ids, len(page.items), page.total,
                                  page.next_offset is None)
        proof = seen.proof
        if not proof and walked and offset == 0 and day < until_day and not seen.day_before_known:
            proof = self._listed_the_day_before(tokens, page, day, origin)
        if proof:
            return attrs.evolve(page, next_offset=None)  # the day before held all of this and the rest
        if seen.shrunk_by:
            return attrs.evolve(page, next_offset=offset - seen.shrunk_by)
        if page.next_offset is not None or day >= until_day:
            return page
        return attrs.evolve(page, next_since=day_start(day + timedelta(days=1)))

    def _changed_page(self, tokens: TokenSource, value: str, offset: int, origin: int | None, walked: bool) -> OrderPage:
        # A day the walk reached is read newest first: its first page then holds the orders most
        # likely listed under the day before as well (the proof). Either order is as complete.
        return self.list_orders(tokens, offset=offset, updated_since=value, origin=origin, newest_first=walked)

    def _listed_the_day_before(self, tokens: TokenSource, page: OrderPage, day: date, origin: int | None) -> bool:
        """This process did not read the day before (another worker did): ask Tiny whether one
        order of this page is listed under that day too (one call, by its number). Under "that
        day only" it cannot be, for a past day; if it is, the filter reaches forward."""
        probe = next((o for o in page.items if isinstance(o, ErpOrder) and o.number and o.number.isdigit()), None)
        if probe is None or probe.number is None:
            return False
        found = self.list_orders(tokens, updated_since=day - timedelta(days=1), number=int(probe.number), origin=origin)
        return any(i.erp_order_id == probe.erp_order_id for i in found.items)

    def invoices_for(self, tokens: TokenSource, orders: Sequence[ErpOrder]) -> Mapping[int, Invoice | MalformedOrder]:
        return self._invoices.find(tokens, orders)

    def shipping_families(self, tokens: TokenSource) -> Sequence[ShippingFamily]:
        with self._families_lock:
            cached = self._families.get(tokens.key)
            if cached is not None and self._clock() - cached[0] <= self._families_ttl:
                return list(cached[1])
        families: list[ShippingFamily] = []
        offset: int | None = 0
        for _ in range(MAX_FAMILY_PAGES):
            if offset is None:
                break
            items, total = self._http.get_listing(tokens, FORMAS_ENVIO, {"limit": PAGE_SIZE, "offset": offset})
            families += [f for f in (conversion.shipping_family(item) for item in items) if f is not None]
            offset = next_offset(offset, len(items), PAGE_SIZE, total)
        with self._families_lock:
            self._families[tokens.key] = (self._clock(), families)
        return list(families)

    def has_permission(self, tokens: TokenSource, permission: ErpPermission) -> bool:
        """One call of the module's smallest answer: a 403 says the permission is still missing."""
        probes: dict[ErpPermission, tuple[Endpoint, Mapping[str, object] | None]] = {
            ErpPermission.PEDIDOS: (PEDIDOS, {"limit": 1}),
            ErpPermission.NOTAS_FISCAIS: (NOTAS, {"tipo": "S", "limit": 1}),
            ErpPermission.FORMAS_ENVIO: (FORMAS_ENVIO, {"limit": 1}),
            ErpPermission.INFO_CONTA: (INFO, None),
        }
        endpoint, params = probes[permission]
        try:
            self._http.get(tokens, endpoint, params)
        except PermissionMissing as exc:
            if exc.permission is permission:
                return False
            raise
        return True

    def order(self, tokens: TokenSource, erp_order_id: int) -> ErpOrder | MalformedOrder | None:
        """GET /pedidos/{idPedido}; None when Tiny does not know the order."""
        answer = self._http.get(tokens, PEDIDO, allow_not_found=True, idPedido=erp_order_id)
        if answer.status == 404:
            return None
        order, _ = conversion.order_from_detail(answer.body)
        return order

    # -- the walk's listing --------------------------------------------------------------

    def list_orders(
        self,
        tokens: TokenSource,
        *,
        offset: int = 0,
        limit: int = PAGE_SIZE,
        updated_since: date | str | None = None,
        number: int | None = None,
        origin: int | None = None,  # origemPedido: 0 sales, 1 PDV
        newest_first: bool = False,
    ) -> OrderPage:
        """GET /pedidos with the filters the walk uses, oldest id first (or newest).
        `updated_since` is a day or the filter's text as sent (a date-time)."""
        params = {
            "dataAtualizacao": updated_since.isoformat() if isinstance(updated_since, date) else updated_since,
            "numero": number,
            "origemPedido": origin,
            "orderBy": "desc" if newest_first else "asc",
            "limit": limit,
            "offset": offset,
        }
        items, total = self._http.get_listing(tokens, PEDIDOS, params)
        return OrderPage(
            items=[conversion.order_from_listing(item) for item in items],
            next_offset=next_offset(offset, len(items), limit, total),
            total=total,
        )

    # -- counters --------------------------------------------------------------------------

    def call_counts(self) -> dict[str, dict[str, int]]:
        """Calls made so far, per endpoint (`GET /pedidos/{idPedido}`) and status."""
        return self._http.stats.snapshot()

    def total_calls(self) -> int:
        return self._http.stats.total()
