"""The gateway against a fake Tiny: requests as the spec names them, pages, invoices, call costs."""

from __future__ import annotations

import gzip
import json
import threading
from datetime import UTC, date, datetime, timedelta

import attrs
import httpx
import pytest

from kanglu.adapters.tiny import TinyGateway
from kanglu.domain.orders import ErpOrder, Invoice, MalformedOrder
from kanglu.domain.shipping import ShippingFamily
from kanglu.domain.situacoes import Situacao
from tests.builders import access_key, erp_order
from tests.unit.tiny.fake_tiny import API, FakeTime, FakeTiny, FakeTokens, listing_item, nota_item


def params_of(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


# -- GET /pedidos ---------------------------------------------------------------------------------


def test_changed_orders_asks_from_the_sao_paulo_moment_of_since_in_pages_of_100(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    # 02:30 UTC on 1 July is still 30 June in São Paulo (UTC-3).
    gateway.changed_orders(tokens, datetime(2026, 7, 1, 2, 30, 15, 999, tzinfo=UTC), 200)
    request = tiny.requests[-1]
    assert request.method == "GET" and request.url.path == "/public-api/v3/pedidos"
    assert params_of(request) == {"dataAtualizacao": "2026-06-30 23:30:15", "orderBy": "asc", "limit": "100",
                                  "offset": "200"}
    assert request.headers["authorization"] == "Bearer token-one"
    # At São Paulo midnight, and for PDV sales left out:
    gateway.changed_orders(tokens, datetime(2026, 7, 1, 3, tzinfo=UTC), 0, point_of_sale=False)
    assert params_of(tiny.requests[-1])["dataAtualizacao"] == "2026-07-01"
    assert params_of(tiny.requests[-1])["origemPedido"] == "0"


def test_a_time_part_tiny_refuses_is_asked_again_by_day_and_not_sent_again(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.orders = [listing_item(i, _updated="2026-07-01") for i in range(1, 4)]
    tiny.refuse_time_in_update_filter = True
    since = datetime(2026, 7, 1, 15, tzinfo=UTC)
    page = gateway.changed_orders(tokens, since, 0)
    assert [o.erp_order_id for o in page.items] == [1, 2, 3]  # type: ignore[union-attr]
    sent = [params_of(r)["dataAtualizacao"] for r in tiny.requests]
    assert sent == ["2026-07-01 12:00:00", "2026-07-01"]
    gateway.changed_orders(tokens, since, 0)
    assert params_of(tiny.requests[-1])["dataAtualizacao"] == "2026-07-01"
    assert gateway.call_counts()["GET /pedidos"] == {"400": 1, "200": 2}


def test_a_window_over_several_days_is_read_day_by_day_up_to_until(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    # Nothing changed, so no order listed twice proves what the filter means: every day is
    # asked, each after the last page of the one before.
    since, until = datetime(2026, 7, 1, 15, tzinfo=UTC), datetime(2026, 7, 3, 15, tzinfo=UTC)
    page = gateway.changed_orders(tokens, since, 0, until=until)
    assert page.next_offset is None and page.next_since == datetime(2026, 7, 2, 3, tzinfo=UTC)
    page = gateway.changed_orders(tokens, page.next_since, 0, until=until)
    assert page.next_since == datetime(2026, 7, 3, 3, tzinfo=UTC)
    page = gateway.changed_orders(tokens, page.next_since, 0, until=until)
    assert page.next_since is None and page.next_offset is None
    assert [params_of(r)["dataAtualizacao"] for r in tiny.requests] == ["2026-07-01 12:00:00", "2026-07-02",
                                                                          "2026-07-03"]


def test_an_order_listed_under_two_past_days_proves_the_filter_reaches_forward(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    # Under "that day only" no order of 2 July can be listed under 1 July as well: seeing one
    # ends the walk, since the listing of 1 July already held every later change.
    tiny.orders = [listing_item(1, _updated="2026-07-01"), listing_item(2, _updated="2026-07-02"),
                   listing_item(3, _updated="2026-07-04")]
    since, until = datetime(2026, 7, 1, 15, tzinfo=UTC), datetime(2026, 7, 5, 15, tzinfo=UTC)
    first = gateway.changed_orders(tokens, since, 0, until=until, window_start=since)
    assert [o.erp_order_id for o in first.items] == [1, 2, 3]  # type: ignore[union-attr]
    second = gateway.changed_orders(tokens, first.next_since, 0, until=until, window_start=since)
    assert params_of(tiny.requests[-1])["orderBy"] == "desc"  # a day the walk reached: newest first
    assert [o.erp_order_id for o in second.items] == [3, 2]  # type: ignore[union-attr]
    assert second.next_since is None and second.next_offset is None
    assert gateway.total_calls() == 2


def test_pages_run_until_the_total_and_say_where_the_next_starts(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.orders = [listing_item(i, _updated="2026-07-01") for i in range(1, 251)]
    since = datetime(2026, 7, 1, 12, tzinfo=UTC)
    seen, offset, pages = [], 0, 0
    while offset is not None:
        page = gateway.changed_orders(tokens, since, offset)
        seen += [o.erp_order_id for o in page.items]  # type: ignore[union-attr]
        assert page.total == 250
        offset, pages = page.next_offset, pages + 1
    assert seen == list(range(1, 251)) and pages == 3


def test_an_empty_search_is_one_call_and_no_next_page(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    page = gateway.changed_orders(tokens, datetime(2026, 7, 1, tzinfo=UTC), 0)
    assert (list(page.items), page.next_offset, page.total) == ([], None, 0)
    assert gateway.total_calls() == 1


def test_an_answer_without_paging_ends_on_a_short_page(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    tiny.script = [httpx.Response(200, json={"itens": [listing_item(i) for i in range(1, 101)]}),
                   httpx.Response(200, json={"itens": [listing_item(101)]})]
    first = gateway.changed_orders(tokens, datetime(2026, 7, 1, tzinfo=UTC), 0)
    assert first.next_offset == 100 and first.total is None
    assert gateway.changed_orders(tokens, datetime(2026, 7, 1, tzinfo=UTC), 100).next_offset is None


def test_malformed_items_among_good_ones_never_fail_the_page(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    broken_cpf = listing_item(2)
    broken_cpf["cliente"]["cpfCnpj"] = "123.456.789-00"
    tiny.orders = [listing_item(1), broken_cpf, listing_item(3, situacao=77), listing_item(4)]
    tiny.orders.append({"situacao": 1, "_updated": "2026-07-01", "id": None})
    page = gateway.changed_orders(tokens, datetime(2026, 7, 1, tzinfo=UTC), 0)
    kinds = [(type(i).__name__, i.erp_order_id) for i in page.items]
    assert kinds[:4] == [("ErpOrder", 1), ("ErpOrder", 2), ("MalformedOrder", 3), ("ErpOrder", 4)]
    assert kinds[4] == ("MalformedOrder", None)
    assert [w.field for w in page.items[1].warnings] == ["customer.document"]  # type: ignore[union-attr]
    reasons = [i.reason for i in page.items if isinstance(i, MalformedOrder)]
    assert "situação desconhecida" in reasons[0]


def test_list_orders_sends_the_filters_the_walk_uses(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    gateway.list_orders(tokens, updated_since=date(2026, 6, 1), number=123, origin=0, newest_first=True)
    assert params_of(tiny.requests[-1]) == {
        "dataAtualizacao": "2026-06-01", "numero": "123", "origemPedido": "0", "orderBy": "desc", "limit": "100",
        "offset": "0",
    }


def test_order_detail_and_a_missing_order(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    tiny.orders = [{"id": 8, "situacao": 6, "numeroPedido": 808, "valorTotalPedido": 10.5, "data": "2026-06-01",
                    "idNotaFiscal": 99, "cliente": None, "transportador": None}]
    order = gateway.order(tokens, 8)
    assert isinstance(order, ErpOrder) and str(order.total) == "10.50" and order.number == "808"
    assert tiny.requests[-1].url.path == "/public-api/v3/pedidos/8"
    assert gateway.order(tokens, 9) is None
    assert gateway.call_counts()["GET /pedidos/{idPedido}"] == {"200": 1, "404": 1}


# -- GET /info --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("info", "expected"), [
    ({"razaoSocial": "Loja LTDA", "fantasia": "Loja"}, "Loja"),
    ({"razaoSocial": "Loja LTDA", "fantasia": ""}, "Loja LTDA"),
    ({"razaoSocial": "Loja LTDA", "fantasia": None}, "Loja LTDA"),
    ({"razaoSocial": "", "fantasia": ""}, None),
])
def test_account_name_is_the_trade_name_else_the_legal_name(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens, info: dict[str, str | None], expected: str | None
) -> None:
    tiny.info = info
    assert gateway.account_name(tokens) == expected
    assert tiny.requests[-1].url.path == "/public-api/v3/info"


# -- GET /formas-envio ------------------------------------------------------------------------------


def test_shipping_families_are_read_in_pages_and_cached(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens, fake_time: FakeTime
) -> None:
    tiny.formas = [{"id": i, "nome": f"Forma {i}", "tipo": str(i % 32), "situacao": "1"} for i in range(1, 151)]
    tiny.formas.append({"id": "x", "nome": "quebrada", "tipo": "1"})
    families = gateway.shipping_families(tokens)
    assert len(families) == 150
    assert families[0] == ShippingFamily(service_id=1, name="Forma 1", family=1)
    assert [params_of(r)["offset"] for r in tiny.calls("/formas-envio")] == ["0", "100"]
    assert gateway.shipping_families(tokens) == families
    assert len(tiny.calls("/formas-envio")) == 2  # cached for a while
    fake_time.now += 3600
    gateway.shipping_families(tokens)
    assert len(tiny.calls("/formas-envio")) == 4


# -- invoices ---------------------------------------------------------------------------------------


def invoiced(erp_id: int, created: date | None = date(2026, 6, 20)) -> ErpOrder:
    return attrs.evolve(erp_order(erp_id, Situacao.FATURADA), invoice=None, created_at=created)


def test_invoices_come_from_a_page_of_notas_matched_by_origin(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.notas = [nota_item(501, 1, numero="000501", serie="01", situacao="6",
                            codigoRastreamento="", urlRastreamento="https://rastreio.example/501"),
                  nota_item(502, 2, situacao=7),
                  nota_item(503, 99)]
    found = gateway.invoices_for(tokens, [invoiced(1), invoiced(2)])
    assert found[1] == Invoice(number="501", series="1", access_key=access_key(501), erp_invoice_id=501,
                               tracking_url="https://rastreio.example/501")
    assert isinstance(found[2], Invoice) and found[2].number == "502"
    calls = tiny.calls("/notas")
    assert len(calls) == 1
    assert params_of(calls[0]) == {"tipo": "S", "dataInicial": "2026-06-19", "orderBy": "asc", "limit": "100",
                                   "offset": "0"}


def test_only_an_authorised_nota_is_an_invoice_and_the_latest_wins(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.notas = [
        nota_item(10, 1, situacao=6), nota_item(11, 1, situacao=3), nota_item(12, 1, situacao="2"),  # 2 Emitida
        nota_item(20, 2, situacao=1, chaveAcesso=""),  # pending: no key yet, and no reason to refuse the order
        nota_item(30, 3, situacao=5, chaveAcesso="123"),  # rejected: its key means nothing
    ]
    found = gateway.invoices_for(tokens, [invoiced(1), invoiced(2), invoiced(3)])
    assert set(found) == {1}
    assert found[1].erp_invoice_id == 12  # type: ignore[union-attr]


def test_an_authorised_nota_with_a_bad_key_is_an_invoice_without_key_and_a_warning(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    key = access_key(40).value
    tiny.notas = [nota_item(40, 4, chaveAcesso=key[:-1] + str((int(key[-1]) + 1) % 10)), nota_item(41, 5)]
    found = gateway.invoices_for(tokens, [invoiced(4), invoiced(5)])
    spoilt = found[4]
    assert isinstance(spoilt, Invoice) and spoilt.access_key is None and spoilt.number == "40"
    assert [w.field for w in spoilt.warnings] == ["invoice.access_key"]
    assert "chave de acesso" in spoilt.warnings[0].message and "nota fiscal 40" in spoilt.warnings[0].message
    assert isinstance(found[5], Invoice) and found[5].warnings == ()


def test_an_order_without_a_creation_date_is_asked_for_by_its_id(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.notas = [nota_item(70, 7, origem=None), nota_item(71, 8)]
    tiny.notas[0]["origem"] = {"id": "7", "tipo": "venda"}
    found = gateway.invoices_for(tokens, [invoiced(7, created=None)])
    assert found[7].erp_invoice_id == 70  # type: ignore[union-attr]
    assert [params_of(r) for r in tiny.calls("/notas")] == [{"idVenda": "7", "tipo": "S", "limit": "100"}]


def test_invoices_of_a_big_import_cost_about_one_call_per_hundred_orders(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    # 1,000 invoiced orders over ten days, each invoiced within two days of its creation; 5%
    # of them have no nota at all. The poll asks page by page (100 orders at a time).
    orders, notas = [], []
    for n in range(1, 1001):
        created = date(2026, 6, 20) + timedelta(days=n // 100)
        orders.append(invoiced(n, created))
        if n % 20:
            nota_day = created + timedelta(days=n % 3)
            notas.append(nota_item(10_000 + n, n, _created=nota_day.isoformat()))
    tiny.notas = sorted(notas, key=lambda x: x["_created"])
    for i, nota in enumerate(tiny.notas):
        nota["id"] = 10_000 + i  # ids grow with time, as Tiny's do
    found: dict[int, object] = {}
    for start in range(0, 1000, 100):
        found.update(gateway.invoices_for(tokens, orders[start:start + 100]))
    assert len(found) == 950 and all(isinstance(v, Invoice) for v in found.values())
    calls = len(tiny.calls("/notas"))
    assert calls <= 2 * 10 + 2  # rent-or-buy: within twice the 10 pages of notas
    # A second round (the next poll repeating the day's orders) is answered from the cache.
    for start in range(0, 1000, 100):
        gateway.invoices_for(tokens, orders[start:start + 100])
    assert len(tiny.calls("/notas")) == calls


def test_orders_without_notas_cost_at_most_the_window(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    tiny.notas = [nota_item(1000 + n, 10_000 + n, _created="2026-06-25") for n in range(500)]  # other orders
    orders = [invoiced(n, date(2026, 6, 21)) for n in range(1, 301)]
    for start in range(0, 300, 30):
        assert gateway.invoices_for(tokens, orders[start:start + 30]) == {}
    # Buying the 5 pages of the window beats asking for 300 orders one by one.
    assert len(tiny.calls("/notas")) <= 2 * 5 + 1


def test_a_nota_issued_after_the_window_was_read_is_found_on_a_later_look(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens, fake_time: FakeTime
) -> None:
    tiny.notas = [nota_item(1, 1)]
    assert set(gateway.invoices_for(tokens, [invoiced(1), invoiced(2)])) == {1}
    tiny.notas.append(nota_item(2, 2, _created="2026-07-01"))
    fake_time.now += 120  # past the tail re-check, within the cache's life
    calls_before = len(tiny.calls("/notas"))
    assert set(gateway.invoices_for(tokens, [invoiced(2)])) == {2}
    assert len(tiny.calls("/notas")) - calls_before == 1
    assert params_of(tiny.calls("/notas")[-1])["offset"] == "1"  # read on from where it stopped


def test_the_notas_cache_is_per_account(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    tiny.notas = [nota_item(1, 1)]
    gateway.invoices_for(tokens, [invoiced(1)])
    gateway.invoices_for(FakeTokens("token-one", key="connection:2"), [invoiced(1)])
    assert len(tiny.calls("/notas")) == 2


# -- the request itself --------------------------------------------------------------------------


def test_a_request_carries_what_an_http_client_would_send_and_a_compressed_answer_is_read(
    tiny: FakeTiny, tokens: FakeTokens
) -> None:
    # The gateway sends straight to the transport (no httpx.Client): the headers, the timeout
    # and the body's decoding are its own to get right.
    gateway = TinyGateway(tiny.transport(), API, timeout=httpx.Timeout(7.0, connect=2.0), user_agent="kanglu-erp/9",
                          sleep=lambda s: None)
    body = gzip.compress(json.dumps({"fantasia": "Loja da Ana"}).encode())
    tiny.script = [httpx.Response(200, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                                  content=body)]
    assert gateway.account_name(tokens) == "Loja da Ana"
    request = tiny.requests[-1]
    assert request.headers["authorization"] == "Bearer token-one" and request.headers["accept"] == "application/json"
    assert request.headers["user-agent"] == "kanglu-erp/9" and "gzip" in request.headers["accept-encoding"]
    assert request.headers["host"] == "api.tiny.test" and "cookie" not in request.headers
    assert request.extensions["timeout"] == {"connect": 2.0, "read": 7.0, "write": 7.0, "pool": 7.0}


# -- counting and threads ---------------------------------------------------------------------------


def test_calls_are_counted_per_endpoint_and_status_and_reported_to_a_hook(tiny: FakeTiny, tokens: FakeTokens) -> None:
    seen: list[tuple[str, str]] = []
    gateway = TinyGateway(tiny.transport(), "https://api.tiny.test/public-api/v3",
                          on_call=lambda endpoint, status, seconds: seen.append((endpoint, status)),
                          sleep=lambda s: None)
    tiny.orders = [{"id": 1, "situacao": 1}]
    gateway.account_name(tokens)
    gateway.order(tokens, 1)
    gateway.order(tokens, 2)
    assert gateway.call_counts() == {"GET /info": {"200": 1}, "GET /pedidos/{idPedido}": {"200": 1, "404": 1}}
    assert seen == [("GET /info", "200"), ("GET /pedidos/{idPedido}", "200"), ("GET /pedidos/{idPedido}", "404")]


def test_one_gateway_serves_many_threads(tiny: FakeTiny, gateway: TinyGateway) -> None:
    tiny.orders = [listing_item(i, _updated="2026-07-01") for i in range(1, 51)]
    tiny.notas = [nota_item(100 + i, i) for i in range(1, 51)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            tokens = FakeTokens("token-one", key=f"connection:{n % 4}")
            for _ in range(5):
                page = gateway.changed_orders(tokens, datetime(2026, 7, 1, tzinfo=UTC), 0)
                orders = [o for o in page.items if isinstance(o, ErpOrder)]
                assert len(gateway.invoices_for(tokens, orders)) == 50
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert gateway.total_calls() == len(tiny.requests)
    assert gateway.call_counts()["GET /pedidos"] == {"200": 40}
    assert len(tiny.calls("/notas")) == 4  # one per account: the others waited and reused it


def test_since_without_a_timezone_is_taken_as_utc(tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens) -> None:
    gateway.changed_orders(tokens, datetime(2026, 7, 1, 2, 0), 0)
    assert params_of(tiny.requests[-1])["dataAtualizacao"] == "2026-06-30 23:00:00"


def test_an_older_order_later_in_the_poll_adds_a_bounded_window_before_the_first(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    tiny.notas = [nota_item(1, 1, _created="2026-05-10"), nota_item(2, 2, _created="2026-06-21")]
    assert set(gateway.invoices_for(tokens, [invoiced(2, date(2026, 6, 20))])) == {2}
    assert set(gateway.invoices_for(tokens, [invoiced(1, date(2026, 5, 9))])) == {1}
    assert [params_of(r).get("dataInicial") + "/" + params_of(r).get("dataFinal", "")
            for r in tiny.calls("/notas")] == ["2026-06-19/", "2026-05-08/2026-06-18"]


def test_a_day_this_process_did_not_read_is_asked_about_with_one_probe_by_number(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    # Another worker read 1 July; this one goes on at 2 July. One call asks Tiny whether an order
    # of 2 July is listed under 1 July too: it is (the filter reaches forward), so the walk ends.
    tiny.orders = [listing_item(1, _updated="2026-07-01"), listing_item(2, _updated="2026-07-04")]
    start, until = datetime(2026, 7, 1, 15, tzinfo=UTC), datetime(2026, 7, 5, 15, tzinfo=UTC)
    page = gateway.changed_orders(tokens, datetime(2026, 7, 2, 3, tzinfo=UTC), 0, until=until, window_start=start)
    assert page.next_since is None and page.next_offset is None
    probe = params_of(tiny.requests[-1])
    assert (probe["dataAtualizacao"], probe["numero"]) == ("2026-07-01", "10002")
    assert len(tiny.requests) == 2
    # The first day of a window is never "reached from the day before": no probe, no proof.
    tiny.requests.clear()
    page = gateway.changed_orders(tokens, datetime(2026, 7, 2, 3, tzinfo=UTC), 0, until=until,
                                  window_start=datetime(2026, 7, 2, 3, tzinfo=UTC))
    assert page.next_since == datetime(2026, 7, 3, 3, tzinfo=UTC) and len(tiny.requests) == 1
    # A day that ends on `until`'s day proves nothing either: "that day only" lists today's too.
    tiny.requests.clear()
    page = gateway.changed_orders(tokens, datetime(2026, 7, 5, 3, tzinfo=UTC), 0, until=until, window_start=start)
    assert page.next_since is None and len(tiny.requests) == 1


def test_a_listing_that_shrinks_between_pages_is_read_again_from_as_many_places_back(
    tiny: FakeTiny, gateway: TinyGateway, tokens: FakeTokens
) -> None:
    # Under "that day only", an order of a past day that changes again leaves that day's
    # listing while it is read: the next pages slide back one place and would skip an order.
    tiny.orders = [listing_item(i, _updated="2026-07-01") for i in range(1, 151)]
    since, until = datetime(2026, 7, 1, 12, tzinfo=UTC), datetime(2026, 7, 3, 15, tzinfo=UTC)
    first = gateway.changed_orders(tokens, since, 0, until=until, window_start=since)
    assert first.next_offset == 100
    tiny.orders = [o for o in tiny.orders if o["id"] != 5]  # changed again: now listed under 3 July
    second = gateway.changed_orders(tokens, since, 100, until=until, window_start=since)
    assert second.next_offset == 99 and second.next_since is None
    third = gateway.changed_orders(tokens, since, 99, until=until, window_start=since)
    seen = {o.erp_order_id for page in (first, second, third) for o in page.items}  # type: ignore[union-attr]
    assert seen == set(range(1, 151)) and third.next_offset is None
    assert third.next_since == datetime(2026, 7, 2, 3, tzinfo=UTC)
