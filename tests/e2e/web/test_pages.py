"""Pedidos, Clientes, Transportadoras and Situações as a merchant sees them."""

from __future__ import annotations

import html as html_lib
import re

import attrs
import pytest
from flask.testing import FlaskClient

from kanglu.domain.customers import Address
from kanglu.domain.orders import MalformedOrder, ShippingAddress
from kanglu.domain.situacoes import Action, Situacao
from kanglu.domain.tracking import ShipmentStatus
from tests.builders import erp_order
from tests.e2e.web.conftest import Account, WebWorld, post_form
from tests.e2e.web.sample_data import UNKNOWN_SERVICE, shop_orders


def text(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, (path, answer.status_code)
    return html_lib.unescape(answer.get_data(as_text=True))


def order_numbers(page: str) -> list[str]:
    return re.findall(r'href="/orders/\d+"><strong>([^<]+)</strong>', page)


@pytest.fixture
def shop(world: WebWorld) -> tuple[WebWorld, Account, FlaskClient]:
    account = world.merchant()
    world.connect(account)
    world.import_orders(account, shop_orders())
    return world, account, world.client(account)


def test_orders_are_listed_newest_first_25_per_page_with_page_numbers(shop) -> None:  # type: ignore[no-untyped-def]
    _, _, client = shop
    first = text(client, "/orders")
    assert order_numbers(first) == [str(12000 + n) for n in range(1, 26)]
    assert "1–25 de 48 pedidos" in first
    assert 'href="/orders?page=2"' in first
    second = text(client, "/orders?page=2")
    assert order_numbers(second) == [str(12000 + n) for n in range(26, 49)]
    assert "26–48 de 48 pedidos" in second


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=12007", ["12007"]),  # order number
        ("q=LJA-58208", ["12008"]),  # e-commerce number
        ("q=SS000700042BR", ["12004"]),  # tracking code
        ("q=Rocha", ["12009", "12021", "12033", "12045"]),  # customer name (part of it)
    ],
)
def test_search_finds_orders_by_number_ecommerce_number_customer_and_tracking_code(shop, query, expected) -> None:  # type: ignore[no-untyped-def]
    _, _, client = shop
    assert order_numbers(text(client, f"/orders?{query}")) == expected


def test_search_by_the_customers_document_accepts_it_formatted(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    customer = next(c for c in world.uow.read().state.customers.values() if c.name == "Gabriel Rocha")
    formatted = customer.document.formatted()
    assert order_numbers(text(client, f"/orders?q={formatted}")) == ["12009", "12021", "12033", "12045"]


def test_filters_by_situacao_tracking_state_and_carrier_including_unidentified(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    orders = [o for o in world.uow.read().orders.all() if o.merchant_id == account.id]

    def expected(predicate) -> list[str]:  # type: ignore[no-untyped-def]
        return [o.number for o in sorted(orders, key=lambda o: o.created_at, reverse=True) if predicate(o)][:25]

    assert order_numbers(text(client, "/orders?situacao=6")) == expected(lambda o: o.situacao is Situacao.ENTREGUE)
    assert order_numbers(text(client, "/orders?tracking_status=waiting_data")) == expected(
        lambda o: o.tracking_status is ShipmentStatus.WAITING_DATA
    )
    assert order_numbers(text(client, "/orders?carrier=jadlog")) == expected(lambda o: o.carrier_code == "jadlog")
    unknown = order_numbers(text(client, "/orders?carrier=unknown"))
    assert unknown == expected(lambda o: o.carrier_code is None) and len(unknown) == 4
    combined = order_numbers(text(client, "/orders?carrier=correios&situacao=5"))
    assert combined == expected(lambda o: o.carrier_code == "correios" and o.situacao is Situacao.ENVIADA)
    # Filters survive paging: the page links keep them.
    assert 'href="/orders?situacao=5&amp;per_page=5&amp;page=2"' in client.get("/orders?situacao=5&per_page=5").get_data(as_text=True)


def test_bad_filters_in_the_address_bar_are_ignored_not_an_error(shop) -> None:  # type: ignore[no-untyped-def]
    _, _, client = shop
    for query in ("situacao=abc", "situacao=42", "tracking_status=perdido", "carrier=pombo", "page=-1", "page=x"):
        assert len(order_numbers(text(client, f"/orders?{query}"))) == 25, query


def test_empty_states_say_what_to_do(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    assert "Nenhum pedido importado ainda" in text(client, "/orders")
    assert "Nenhum cliente ainda" in text(client, "/customers")
    assert "Nenhuma falha de importação" in text(client, "/orders/failures")
    world.connect(account)
    world.import_orders(account, [erp_order(1)])
    assert "Nenhum pedido encontrado" in text(client, "/orders?q=nao-existe")
    assert "Esta página não existe" in text(client, "/orders?page=9")


def test_carriers_says_all_recognised_only_once_orders_came_in(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    before = text(client, "/carriers")
    assert "Todas as formas de envio foram reconhecidas" not in before
    assert "Nenhum pedido importado ainda" in before and 'href="/integrations"' in before
    world.connect(account)
    assert "Todas as formas de envio foram reconhecidas" not in text(client, "/carriers")
    world.import_orders(account, [erp_order(1)])
    assert "Todas as formas de envio foram reconhecidas" in text(client, "/carriers")


@pytest.mark.parametrize("path", ["/orders?page=9", "/orders?situacao=1&page=9", "/customers?page=9"])
def test_an_out_of_range_page_links_back_to_the_first(shop, path: str) -> None:  # type: ignore[no-untyped-def]
    _, _, client = shop
    page = text(client, path)
    assert "Esta página não existe" in page
    link = re.search(r'<a class="btn btn-primary" href="([^"]+)">Voltar para a primeira página</a>', page)
    assert link is not None
    first = link.group(1)
    assert "page=9" not in first and first.startswith(path.split("?")[0])
    assert ("situacao=1" in first) == ("situacao=1" in path)  # the filters stay
    assert "Esta página não existe" not in text(client, first)


def test_no_page_says_o_kanglu(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    order_id = world.uow.read().orders.all()[0].id
    for path in ("/integrations", "/orders", f"/orders/{order_id}", "/orders/failures", "/customers", "/carriers",
                 "/situacoes"):
        page = text(client, path)
        assert not re.search(r"\b(o|do|ao|no|pelo) Kanglu\b", page, re.I), path


def test_order_detail_shows_customer_invoice_carrier_and_tracking(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    order = next(o for o in world.uow.read().orders.all() if o.number == "12004")
    page = text(client, f"/orders/{order.id}")
    key = order.invoice.access_key.value
    grouped = " ".join(key[i : i + 4] for i in range(0, 44, 4))
    for expected in (
        "Pedido 12004",
        "LJA-58204",
        "Enviada",
        "R$ 197,52",
        "Fernanda Oliveira",
        order.customer.document.formatted(),
        "(11) 90000-0005",
        "CEP 01001-000",
        "Curitiba / PR",
        "900504",  # NF number
        grouped,
        "Correios",
        "SS000700042BR",
        "Em rastreamento",
    ):
        assert expected in page, expected
    assert (
        '<a href="https://rastreamento.correios.com.br/app/index.php?objeto=SS000700042BR" target="_blank" '
        'rel="noopener noreferrer">' in page
    )


def test_order_detail_shows_the_import_error_and_an_unidentified_carrier(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    order = next(o for o in world.uow.read().orders.all() if o.shipping_key == UNKNOWN_SERVICE.key)
    world.import_orders(account, [MalformedOrder(order.erp_order_id, "CPF inválido: os dígitos verificadores não conferem", {})])
    page = text(client, f"/orders/{order.id}")
    assert "não pôde ser importada:</strong> CPF inválido: os dígitos verificadores não conferem" in page
    assert "não identificada" in page and 'href="/carriers"' in page
    assert "erro de importação" in text(client, f"/orders?q={order.number}")


def test_a_tracking_url_that_is_not_a_web_address_is_not_a_link(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    shipping = attrs.evolve(erp_order(1).shipping, tracking_url="javascript:alert(document.cookie)")
    world.import_orders(account, [erp_order(1, shipping=shipping)])
    page = text(world.client(account), f"/orders/{world.order_ids(account)[0]}")
    assert "javascript:" not in page


def test_failures_page_lists_orders_tiny_sent_that_could_not_be_imported(shop) -> None:  # type: ignore[no-untyped-def]
    _, _, client = shop
    page = text(client, "/orders/failures")
    assert "990001" in page
    assert "chave de acesso inválida: o dígito verificador não confere" in page
    assert "01/07/2026 09:00" in page


def test_customers_list_search_and_detail_with_their_orders(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    listing = text(client, "/customers")
    names = re.findall(r'href="/customers/\d+"><strong>([^<]+)</strong>', listing)
    assert names == sorted(names) and len(names) == 12
    found = text(client, "/customers?q=juliana")
    assert re.findall(r'href="/customers/\d+"><strong>([^<]+)</strong>', found) == ["Juliana Martins"]
    customer_id = int(re.search(r'href="/customers/(\d+)"', found).group(1))
    detail = text(client, f"/customers/{customer_id}")
    assert "Juliana Martins" in detail and "4 pedidos" in detail and "Salvador / BA" in detail
    assert order_numbers(detail) == ["12006", "12018", "12030", "12042"]


def test_mapping_an_unknown_shipping_service_starts_tracking_its_orders(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    page = text(client, "/carriers")
    assert "Transportadora Rota Sul / Rodoviário" in page
    assert re.search(r"Rodoviário</strong></td>\s*<td class=\"num[^\"]*\"[^>]*>4</td>", page)
    answer = post_form(client, "/carriers", "/carriers", {"shipping_key": UNKNOWN_SERVICE.key, "carrier_code": "jadlog"})
    assert answer.status_code == 303
    after = text(client, "/carriers")
    assert "Transportadora Rota Sul / Rodoviário agora é Jadlog: 4 pedidos passaram a usar essa transportadora." in after
    assert "Todas as formas de envio foram reconhecidas" in after
    waiting = [o for o in world.uow.read().orders.all() if o.shipping_key == UNKNOWN_SERVICE.key]
    assert {o.carrier_code for o in waiting} == {"jadlog"}
    assert order_numbers(text(client, "/orders?carrier=unknown")) == []


def test_mapping_to_an_unknown_carrier_is_refused_in_portuguese(shop) -> None:  # type: ignore[no-untyped-def]
    _, _, client = shop
    post_form(client, "/carriers", "/carriers", {"shipping_key": UNKNOWN_SERVICE.key, "carrier_code": "pombo"})
    assert "Transportadora desconhecida." in text(client, "/carriers")


def test_situacoes_form_shows_the_defaults_and_saves_changes(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    page = text(client, "/situacoes")
    for situacao in Situacao:
        assert situacao.label in page
    assert re.search(r'name="situacao_6"[^>]*>(?:(?!</select>).)*<option value="mark_delivered" selected>', page, re.S)
    post_form(client, "/situacoes", "/situacoes", {"situacao_9": "cancel_tracking", "situacao_6": "import"})
    saved = world.uow.read().status_mappings.get(world.connection_id(account))
    assert saved.action_for(Situacao.NAO_ENTREGUE) is Action.CANCEL_TRACKING
    assert saved.action_for(Situacao.ENTREGUE) is Action.IMPORT
    assert saved.action_for(Situacao.FATURADA) is Action.IMPORT
    assert "Situações salvas." in text(client, "/situacoes")


def test_situacoes_warns_when_no_situacao_imports_and_restores_the_defaults(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    assert 'data-alert="imports-nothing"' not in text(client, "/situacoes")
    post_form(client, "/situacoes", "/situacoes", {f"situacao_{int(s)}": "ignore" for s in Situacao})
    page = text(client, "/situacoes")
    assert "todas estão como “Ignorar”: a Kanglu não vai importar nenhum pedido do Tiny." in page
    assert 'data-alert="imports-nothing"' in page and "Nenhuma situação está sendo importada." in page
    assert world.uow.read().status_mappings.get(world.connection_id(account)).imported_situacoes == frozenset()

    assert "Restaurar padrão" in page
    answer = post_form(client, "/situacoes", "/situacoes/restore", {})
    assert answer.status_code == 303
    restored = world.uow.read().status_mappings.get(world.connection_id(account))
    assert dict(restored.actions) == {
        Situacao.FATURADA: Action.IMPORT, Situacao.PRONTO_ENVIO: Action.IMPORT, Situacao.ENVIADA: Action.IMPORT,
        Situacao.ENTREGUE: Action.MARK_DELIVERED, Situacao.CANCELADA: Action.CANCEL_TRACKING,
    }  # PRODUCT.md's defaults
    after = text(client, "/situacoes")
    assert "Mapeamento padrão restaurado." in after and 'data-alert="imports-nothing"' not in after


def test_situacoes_refuses_unknown_actions_and_needs_an_integration(world: WebWorld) -> None:
    account = world.merchant()
    client = world.client(account)
    page = text(client, "/situacoes")
    assert "Configure a integração com o Tiny" in page and "disabled" in page
    post_form(client, "/situacoes", "/situacoes", {"situacao_1": "import"})
    assert "Configure a integração com o Tiny antes de mapear as situações." in text(client, "/situacoes")
    world.configure(account)
    post_form(client, "/situacoes", "/situacoes", {"situacao_1": "explodir"})
    assert "Escolha uma das ações da lista" in text(client, "/situacoes")


def test_unknown_pages_get_a_portuguese_404(shop) -> None:  # type: ignore[no-untyped-def]
    _, _, client = shop
    for path in ("/nao-existe", "/orders/999999", "/customers/999999", f"/orders/{2**70}"):
        page = text(client, path, status=404)
        assert "Página não encontrada" in page and 'lang="pt-BR"' in page


def test_a_waiting_order_says_what_it_waits_for(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    world.import_orders(account, [erp_order(900, invoice=None, tracking_code=None)])  # billed, not shipped yet
    waiting = [o for o in world.uow.read().orders.all() if o.tracking_status is ShipmentStatus.WAITING_DATA]
    no_code = next(o for o in waiting if not o.tracking_code)
    assert "Aguardando código de rastreio" in text(client, f"/orders/{no_code.id}")
    coded = [o for o in waiting if o.tracking_code and not o.carrier_code]
    assert coded
    for order in coded:
        page = text(client, f"/orders/{order.id}")
        assert "Aguardando transportadora" in page and "Aguardando código de rastreio" not in page
    assert "Aguardando dados" not in text(client, "/orders")
    assert ShipmentStatus.WAITING_DATA.value == "waiting_data"  # the API's value does not change


def test_an_order_imported_with_warnings_shows_a_badge_and_explains_them(world: WebWorld) -> None:
    from kanglu.domain.orders import OrderWarning

    account = world.merchant()
    world.connect(account)
    warning = OrderWarning("customer.document", "CPF inválido: os dígitos verificadores não conferem (“123.456.789-00”).")
    world.import_orders(account, [erp_order(1, warnings=(warning,), total=None), erp_order(2)])
    client = world.client(account)
    listing = text(client, "/orders")
    assert listing.count("1 aviso") == 1  # the clean order has no badge
    order_id = next(o.id for o in world.uow.read().orders.all() if o.erp_order_id == 1)
    page = text(client, f"/orders/{order_id}")
    assert "importado com um aviso" in page and "CPF inválido: os dígitos verificadores não conferem" in page
    assert "campo" not in page.split("importado com um aviso")[1].split("</div>")[0]
    assert re.search(r"<dt>Total</dt><dd><strong>—</strong></dd>", page)  # never 0,00
    assert 'href="https://erp.tiny.com.br/vendas#edit/1"' in page


def test_failures_show_number_customer_a_link_to_tiny_and_tentar_de_novo(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    world.import_orders(account, [MalformedOrder(777, "situação desconhecida: 77", {"id": 777}, number="12777",
                                                 customer_name="Joana Prado")])
    client = world.client(account)
    page = text(client, "/orders/failures")
    assert "12777" in page and "Joana Prado" in page and "situação desconhecida: 77" in page
    assert 'href="https://erp.tiny.com.br/vendas#edit/777"' in page and "Tentar de novo" in page
    failure_id = world.uow.db.committed.failures[0].id

    world.gateway.details[777] = erp_order(777)  # corrected in Tiny
    answer = post_form(client, "/orders/failures", f"/orders/failures/{failure_id}/retry")
    assert answer.status_code == 303
    after = text(client, "/orders/failures")
    assert "Pedido importado: a falha foi resolvida." in after and "12777" not in after
    assert [o.erp_order_id for o in world.uow.read().orders.all()] == [777]


def test_order_detail_shows_where_the_parcel_goes(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    gift = ShippingAddress("Ana Presenteada", Address("Rua do Presente", "12", "Sala 1203", "Boa Viagem", "Recife",
                                                      "PE", "51020000", "Brasil"))
    invoice = attrs.evolve(erp_order(1).invoice, delivery_address=gift)
    world.import_orders(account, [erp_order(1, invoice=invoice), erp_order(2)])
    by_erp_id = {o.erp_order_id: o.id for o in world.uow.read().orders.all() if o.merchant_id == account.id}
    client = world.client(account)
    page = text(client, f"/orders/{by_erp_id[1]}")
    for expected in ("Endereço de entrega", "Ana Presenteada", "Rua do Presente, 12", "Sala 1203", "Recife / PE",
                     "CEP 51020-000"):
        assert expected in page, expected
    assert "O mesmo endereço do cliente." not in page
    own = text(client, f"/orders/{by_erp_id[2]}")
    assert "Endereço de entrega" in own and "O mesmo endereço do cliente." in own


def test_situacoes_has_the_pdv_checkbox_and_saves_it(shop) -> None:  # type: ignore[no-untyped-def]
    world, account, client = shop
    page = text(client, "/situacoes")
    assert "Importar também as vendas do PDV" in page
    assert not re.search(r'id="import_point_of_sale"[^>]*checked', page)
    post_form(client, "/situacoes", "/situacoes", {"import_point_of_sale_shown": "1", "import_point_of_sale": "1"})
    assert world.uow.read().connections.get(world.connection_id(account)).import_point_of_sale is True
    assert re.search(r'id="import_point_of_sale"[^>]*checked', text(client, "/situacoes"))
    post_form(client, "/situacoes", "/situacoes", {"import_point_of_sale_shown": "1"})  # unticked
    assert world.uow.read().connections.get(world.connection_id(account)).import_point_of_sale is False
