"""The gateway against the sandbox's API v3 over real HTTP: data, paging, filters, faults."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from kanglu.adapters.tiny import RateLimitPacer, RetryPolicy, TinyGateway
from kanglu.application.errors import RateLimited, TransientFailure
from kanglu.application.ports import OrderPage
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder
from kanglu.domain.situacoes import INVOICED_SITUACOES, Situacao
from kanglu.sandbox import SandboxClock, SandboxServer
from tests.integration.tiny.conftest import OAuthTokens, Tiny, every_order_since


def read_all(gateway: TinyGateway, tokens: OAuthTokens, since: datetime) -> list[ErpOrder | MalformedOrder]:
    items: list[ErpOrder | MalformedOrder] = []
    offset: int | None = 0
    while offset is not None:
        page: OrderPage = gateway.changed_orders(tokens, since, offset)
        items += page.items
        offset = page.next_offset
    return items


# -- listing ------------------------------------------------------------------------------------------


def test_every_order_is_listed_once_in_id_order_with_what_the_listing_carries(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(), tiny.tokens()
    items = read_all(gateway, tokens, every_order_since(tiny.sandbox))
    truth = {o["id"]: o for o in tiny.truth()}
    assert [i.erp_order_id for i in items] == sorted(truth)
    assert gateway.call_counts() == {"GET /pedidos": {"200": 2}}  # 150 orders: two pages
    for order in items:
        assert isinstance(order, ErpOrder), order
        expected = truth[order.erp_order_id]
        assert order.situacao == expected["situacao"]
        assert order.number == str(expected["numeroPedido"])
        listed = expected["pedido"].get("transportador") or {}  # null or absent in some payloads
        assert (order.tracking_code.value if order.tracking_code else None) == (listed.get("codigoRastreamento") or None)
        assert order.shipping.service_id == (listed.get("formaEnvio") or {}).get("id")


def test_the_sandboxs_listing_defects_are_orders_with_warnings(make_tiny: Callable[..., Tiny]) -> None:
    tiny = make_tiny(orders=200, malformed_rate=0.3)
    items = read_all(tiny.gateway(), tiny.tokens(), every_order_since(tiny.sandbox))
    truth = {o["id"]: o["malformed"] for o in tiny.truth()}
    assert not [i for i in items if isinstance(i, MalformedOrder)]
    by_id = {i.erp_order_id: i for i in items if isinstance(i, ErpOrder)}
    listing_defects = {k for k, v in truth.items() if v in ("cpf_invalido", "codigo_rastreamento_invalido")}
    assert listing_defects  # the key defect shows on the invoice
    for erp_id in listing_defects:
        field = "customer.document" if truth[erp_id] == "cpf_invalido" else "tracking_code"
        assert [w.field for w in by_id[erp_id].warnings if w.field == field] == [field]
    assert len(items) == 200


def test_the_filter_by_number(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(), tiny.tokens()
    one = tiny.truth()[17]
    by_number = gateway.list_orders(tokens, number=one["numeroPedido"])
    assert [o.erp_order_id for o in by_number.items] == [one["id"]]


def test_paging_with_small_pages_covers_everything_once(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(), tiny.tokens()
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = gateway.list_orders(tokens, offset=offset, limit=40)
        seen += [i.erp_order_id for i in page.items if i.erp_order_id]
        offset = page.next_offset
    assert seen == sorted(o["id"] for o in tiny.truth())
    assert gateway.call_counts()["GET /pedidos"]["200"] == 4


def test_an_order_changed_in_tiny_shows_up_in_the_next_poll(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(), tiny.tokens()
    target = tiny.truth()[5]
    tiny.control.put(f"/orders/{target['id']}/situacao", json={"situacao": 9}).raise_for_status()
    today = datetime.fromtimestamp(tiny.sandbox.clock.now(), UTC)
    changed = read_all(gateway, tokens, today)
    assert {o.erp_order_id: o.situacao for o in changed}[target["id"]] is Situacao.NAO_ENTREGUE


def test_detail_of_an_order(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(), tiny.tokens()
    target = next(o for o in tiny.truth() if o["pedido"].get("valor"))
    order = gateway.order(tokens, target["id"])
    assert isinstance(order, ErpOrder) and order.erp_order_id == target["id"]
    assert str(order.total) == f"{float(target['pedido']['valor']):.2f}"
    assert gateway.order(tokens, 1) is None


# -- invoices and shipping ----------------------------------------------------------------------------


def test_invoices_of_invoiced_orders_come_in_pages_and_match_tiny(make_tiny: Callable[..., Tiny]) -> None:
    tiny = make_tiny(orders=300, malformed_rate=0.1)
    gateway, tokens = tiny.gateway(), tiny.tokens()
    orders = [i for i in read_all(gateway, tokens, every_order_since(tiny.sandbox)) if isinstance(i, ErpOrder)]
    wanted = [o for o in orders if o.situacao in INVOICED_SITUACOES]
    found: dict[int, Invoice | MalformedOrder] = {}
    for start in range(0, len(wanted), 100):
        found.update(gateway.invoices_for(tokens, wanted[start:start + 100]))
    truth = {o["id"]: o for o in tiny.truth()}
    for order in wanted:
        nota = truth[order.erp_order_id]["nota"]
        result = found.get(order.erp_order_id)
        if nota is None or nota["situacao"] not in (2, 6, 7):
            assert result is None
        elif truth[order.erp_order_id]["malformed"] == "chave_acesso_invalida":
            assert isinstance(result, Invoice) and result.access_key is None
            assert [w.field for w in result.warnings] == ["invoice.access_key"]
        else:
            assert isinstance(result, Invoice), (order.erp_order_id, result)
            assert result.number == nota["numero"].lstrip("0") and result.series == nota["serie"].lstrip("0")
            assert result.access_key is not None and result.access_key.value == nota["chaveAcesso"]
            assert (result.tracking_code.value if result.tracking_code else None) == nota["codigoRastreamento"]
    notas_calls = sum(gateway.call_counts()["GET /notas"].values())
    assert notas_calls <= len(wanted) / 100 * 2 + 3  # pages, not one call per order


def test_an_invoice_issued_later_is_found(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(cache_ttl=0.0), tiny.tokens()
    target = next(o for o in tiny.truth() if o["nota"] is None and o["situacao"] in (0, 3, 4))
    tiny.control.put(f"/orders/{target['id']}/situacao", json={"situacao": 1}).raise_for_status()
    issued = tiny.control.post(f"/orders/{target['id']}/invoice", json={"situacao": 6}).raise_for_status().json()
    order = next(o for o in read_all(gateway, tokens, datetime.fromtimestamp(tiny.sandbox.clock.now(), UTC))
                 if o.erp_order_id == target["id"])
    assert isinstance(order, ErpOrder)
    invoice = gateway.invoices_for(tokens, [order])[target["id"]]
    assert isinstance(invoice, Invoice) and invoice.erp_invoice_id == (issued.get("nota") or issued)["id"]


def test_shipping_services_and_their_families(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(), tiny.tokens()
    families = gateway.shipping_families(tokens)
    assert len(families) == 11
    by_name = {f.name: f.family for f in families}
    assert by_name["Jadlog"] == 7 and by_name["Mercado Envios"] == 3 and 2 in by_name.values()
    gateway.shipping_families(tokens)
    assert gateway.call_counts()["GET /formas-envio"] == {"200": 1}


# -- faults -------------------------------------------------------------------------------------------


def test_5xx_then_success(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(), tiny.tokens()
    tiny.faults(force_errors=[503, 500])
    assert gateway.changed_orders(tokens, every_order_since(tiny.sandbox), 0).total == 150
    assert gateway.call_counts()["GET /pedidos"] == {"503": 1, "500": 1, "200": 1}
    assert tiny.counters()["api"]["GET /pedidos"]["by_status"] == {"503": 1, "500": 1, "200": 1}


def test_a_5xx_that_persists_is_transient_and_names_tinys_request(tiny: Tiny) -> None:
    gateway, tokens = tiny.gateway(), tiny.tokens()
    tiny.faults(force_errors=[502, 502, 502])
    with pytest.raises(TransientFailure) as caught:
        gateway.changed_orders(tokens, every_order_since(tiny.sandbox), 0)
    assert caught.value.request_id and len(caught.value.request_id) == 36  # the sandbox's uuid


def test_a_slow_answer_times_out_and_the_retry_succeeds(make_tiny: Callable[..., Tiny]) -> None:
    tiny = make_tiny(orders=20)
    # Wide margins both ways: the slow answer takes 3 s, a normal one a few milliseconds.
    tiny.faults(force_slow=1, slow_seconds=3.0)
    with httpx.HTTPTransport() as transport:
        gateway = TinyGateway(transport, tiny.sandbox.api_url, timeout=httpx.Timeout(1.0),
                              policy=RetryPolicy(backoff_initial=0.01, backoff_max=0.05),
                              pacer=RateLimitPacer(burst_interval=0, fallback_interval=0))
        assert gateway.changed_orders(tiny.tokens(), every_order_since(tiny.sandbox), 0).total == 20
    assert gateway.call_counts()["GET /pedidos"] == {"timeout": 1, "200": 1}


def test_a_429_reschedules_this_account_and_not_the_others(make_tiny: Callable[..., Tiny]) -> None:
    # A budget is set so that the answers carry the rate-limit headers (an account without one has none).
    stormy, calm = make_tiny(orders=20, settings={"rate_limit": 120}), make_tiny(orders=20)
    gateway = stormy.gateway()
    stormy.faults(storm_until=stormy.sandbox.clock.now() + 40)
    with pytest.raises(RateLimited) as caught:
        gateway.changed_orders(stormy.tokens(), every_order_since(stormy.sandbox), 0)
    assert caught.value.retry_after is not None and 30 <= caught.value.retry_after <= 41
    assert gateway.changed_orders(calm.tokens(), every_order_since(calm.sandbox), 0).total == 20
    assert stormy.counters()["api"]["GET /pedidos"]["by_status"] == {"429": 1}


def test_a_429_without_rate_headers_still_backs_off(make_tiny: Callable[..., Tiny]) -> None:
    tiny = make_tiny(orders=20, settings={"headers_missing_rate": 1.0, "rate_limit": 120})
    tiny.faults(force_429=1)
    with pytest.raises(RateLimited) as caught:
        tiny.gateway().changed_orders(tiny.tokens(), every_order_since(tiny.sandbox), 0)
    assert caught.value.retry_after is not None and 20 <= caught.value.retry_after <= 40


@pytest.fixture
def still_sandbox() -> Iterator[SandboxServer]:
    """A clock that stands still: the rate window cannot reset in the middle of the test."""
    with SandboxServer(orders=50, seed=8, clock=SandboxClock(start=1_790_000_000),
                       settings={"rate_limit": 8, "burst": 0}) as server:
        yield server


def test_the_pacer_stops_before_tiny_says_429(
    still_sandbox: SandboxServer, http: httpx.Client, api_transport: httpx.HTTPTransport
) -> None:
    tiny = Tiny(still_sandbox, still_sandbox.default_account, http, api_transport)
    gateway = tiny.gateway(pacer=RateLimitPacer(burst_interval=0.0, max_wait=0.5))
    tokens = tiny.tokens()
    since = every_order_since(still_sandbox)
    calls = 0
    with pytest.raises(RateLimited) as caught:
        for _ in range(20):
            gateway.changed_orders(tokens, since, 0)
            calls += 1
    assert calls >= 4  # plenty left at first: no pacing
    assert caught.value.retry_after is not None and caught.value.retry_after > 0.5
    statuses = tiny.counters()["api"]["GET /pedidos"]["by_status"]
    assert statuses == {"200": calls}  # never a 429: the budget was never overrun
