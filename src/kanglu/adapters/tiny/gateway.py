"""Tiny's API v3 as the ErpGateway port: listing-first, invoices in pages, calls counted."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

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
    TinyHttp,
)
from kanglu.adapters.tiny.invoices import NOTAS, PAGE_SIZE, InvoiceCheckStore, InvoiceFinder
from kanglu.adapters.tiny.ratelimit import RateLimitPacer
from kanglu.application.ports import OrderPage, TokenSource
from kanglu.domain.errors import InvalidValue
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder
from kanglu.domain.shipping import ShippingFamily
from kanglu.domain.situacoes import Situacao

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.tiny.com.br/public-api/v3"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")

INFO = Endpoint("GET", "/info")
PEDIDOS = Endpoint("GET", "/pedidos")
PEDIDO = Endpoint("GET", "/pedidos/{idPedido}")
NOTA = Endpoint("GET", "/notas/{idNota}")
FORMAS_ENVIO = Endpoint("GET", "/formas-envio")
FORMA_ENVIO = Endpoint("GET", "/formas-envio/{idFormaEnvio}")
MAX_FAMILY_PAGES = 50  # 5,000 shipping services: far beyond any account


def sao_paulo_day(instant: datetime) -> date:
    """The São Paulo calendar day of an instant (a naive one is taken as UTC)."""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(SAO_PAULO).date()


@attrs.frozen
class NotaSummary:
    """One nota of a GET /notas listing, as far as Kanglu reads it."""

    nota_id: int
    order_id: int | None
    situacao: int | None
    authorised: bool
    invoice: Invoice | None = None  # authorised notas only
    problem: str | None = None  # why an authorised nota is not a valid invoice


@attrs.frozen
class NotaPage:
    items: Sequence[NotaSummary]
    next_offset: int | None
    total: int | None = None


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
    ) -> None:
        self._http = TinyHttp(
            transport, api_url, timeout=timeout, user_agent=user_agent, stats=stats or CallStats(on_call), pacer=pacer or RateLimitPacer(sleep=sleep, clock=clock),
            policy=policy, sleep=sleep,
        )
        # With `invoice_checks` (the database), what spares a quiet poll from reading the notas
        # again holds across restarts and worker processes, not only in this one's memory.
        self._invoices = InvoiceFinder(self._http, ttl=cache_ttl, clock=clock, store=invoice_checks,
                                       wall_clock=wall_clock)
        self._clock = clock
        self._families_ttl = families_ttl
        self._families_lock = threading.Lock()
        self._families: dict[str, tuple[float, list[ShippingFamily]]] = {}

    # -- the port ------------------------------------------------------------------------

    def account_name(self, tokens: TokenSource) -> str | None:
        answer = self._http.get(tokens, INFO)
        return conversion.account_name(answer.body)

    def changed_orders(self, tokens: TokenSource, since: datetime, offset: int) -> OrderPage:
        """Orders updated on or after the São Paulo day of `since`, by id. Tiny filters by
        day, so the page repeats what changed earlier that day: the poll's overlap relies on
        it and its import is idempotent."""
        return self.list_orders(tokens, updated_since=sao_paulo_day(since), offset=offset)

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
            offset = conversion.next_offset(offset, len(items), PAGE_SIZE, total)
        with self._families_lock:
            self._families[tokens.key] = (self._clock(), families)
        return list(families)

    # -- more of the API -----------------------------------------------------------------

    def list_orders(
        self,
        tokens: TokenSource,
        *,
        offset: int = 0,
        limit: int = PAGE_SIZE,
        updated_since: date | None = None,
        situacao: Situacao | None = None,
        created_from: date | None = None,
        created_to: date | None = None,
        number: int | None = None,
        ecommerce_number: str | None = None,
        document: str | None = None,
    ) -> OrderPage:
        """GET /pedidos with the spec's filters, oldest id first."""
        params = {
            "dataAtualizacao": updated_since.isoformat() if updated_since else None,
            "situacao": int(situacao) if situacao is not None else None,
            "dataInicial": created_from.isoformat() if created_from else None,
            "dataFinal": created_to.isoformat() if created_to else None,
            "numero": number,
            "numeroPedidoEcommerce": ecommerce_number,
            "cpfCnpj": document,
            "orderBy": "asc",
            "limit": limit,
            "offset": offset,
        }
        items, total = self._http.get_listing(tokens, PEDIDOS, params)
        return OrderPage(
            items=[conversion.order_from_listing(item) for item in items],
            next_offset=conversion.next_offset(offset, len(items), limit, total),
            total=total,
        )

    def order(self, tokens: TokenSource, erp_order_id: int) -> ErpOrder | MalformedOrder | None:
        """GET /pedidos/{idPedido}; None when Tiny does not know the order."""
        answer = self._http.get(tokens, PEDIDO, allow_not_found=True, idPedido=erp_order_id)
        if answer.status == 404:
            return None
        order, _ = conversion.order_from_detail(answer.body)
        return order

    def invoice(self, tokens: TokenSource, invoice_id: int) -> NotaSummary | None:
        """GET /notas/{idNota}; None when Tiny does not know the nota."""
        answer = self._http.get(tokens, NOTA, allow_not_found=True, idNota=invoice_id)
        if answer.status == 404:
            return None
        return self._summary(answer.body)

    def list_invoices(
        self,
        tokens: TokenSource,
        *,
        offset: int = 0,
        limit: int = PAGE_SIZE,
        situacao: int | None = None,
        number: int | None = None,
        order_id: int | None = None,
        ecommerce_number: str | None = None,
        created_from: date | None = None,
        created_to: date | None = None,
        outgoing_only: bool = True,
    ) -> NotaPage:
        """GET /notas with the spec's filters."""
        params = {
            "tipo": "S" if outgoing_only else None,
            "situacao": situacao,
            "numero": number,
            "idVenda": order_id,
            "numeroPedidoEcommerce": ecommerce_number,
            "dataInicial": created_from.isoformat() if created_from else None,
            "dataFinal": created_to.isoformat() if created_to else None,
            "orderBy": "asc",
            "limit": limit,
            "offset": offset,
        }
        items, total = self._http.get_listing(tokens, NOTAS, params)
        summaries = [s for s in (self._summary(item) for item in items) if s is not None]
        return NotaPage(summaries, conversion.next_offset(offset, len(items), limit, total), total)

    def shipping_service(self, tokens: TokenSource, service_id: int) -> ShippingFamily | None:
        """GET /formas-envio/{idFormaEnvio}; None when Tiny does not know it."""
        answer = self._http.get(tokens, FORMA_ENVIO, allow_not_found=True, idFormaEnvio=service_id)
        if answer.status == 404:
            return None
        return conversion.shipping_family(answer.body)

    def call_counts(self) -> dict[str, dict[str, int]]:
        """Calls made so far, per endpoint (`GET /pedidos/{idPedido}`) and status."""
        return self._http.stats.snapshot()

    def total_calls(self) -> int:
        return self._http.stats.total()

    def forget_cache(self, tokens: TokenSource | None = None) -> None:
        """Drop the cached notas and shipping services (of one account, or all)."""
        self._invoices.forget(tokens.key if tokens else None)
        with self._families_lock:
            if tokens is None:
                self._families.clear()
            else:
                self._families.pop(tokens.key, None)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _summary(raw: object) -> NotaSummary | None:
        nota = conversion.nota_from_payload(raw)
        if nota is None:
            return None
        authorised = conversion.is_authorised(nota)
        invoice, problem = None, None
        if authorised:
            try:
                invoice = conversion.invoice_from_nota(nota)
            except InvalidValue as exc:
                problem = exc.message
        return NotaSummary(nota.id, conversion.order_id_of(nota), nota.situacao, authorised, invoice, problem)
