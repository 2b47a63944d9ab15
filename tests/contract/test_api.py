"""API v3 over HTTP: filters, paging, ordering, errors, authentication and headers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kanglu.sandbox.clock import SAO_PAULO
from kanglu.sandbox.model import Quirk
from tests.contract.conftest import all_pages, api_client, new_account


def sp(epoch: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(epoch, SAO_PAULO).strftime(fmt)


def ids(items: list[dict]) -> list[int]:
    return [item["id"] for item in items]


def test_listing_is_ordered_by_id_descending_by_default_and_pages_cover_everything(api, account) -> None:
    truth = sorted(o.id for o in account.dataset.orders)
    first = api.get("/pedidos").json()
    assert first["paginacao"] == {"limit": 100, "offset": 0, "total": len(truth)}
    assert ids(first["itens"]) == sorted(truth, reverse=True)
    assert ids(all_pages(api, "/pedidos", limit=7)) == sorted(truth, reverse=True)
    assert ids(all_pages(api, "/pedidos", limit=7, orderBy="asc")) == truth
    page = api.get("/pedidos", params={"limit": 10, "offset": 55}).json()
    assert page["paginacao"] == {"limit": 10, "offset": 55, "total": 60}
    assert len(page["itens"]) == 5


def test_an_empty_search_is_200_with_total_zero(api) -> None:
    answer = api.get("/pedidos", params={"numero": 1})
    assert answer.status_code == 200
    assert answer.json() == {"itens": [], "paginacao": {"limit": 100, "offset": 0, "total": 0}}
    beyond = api.get("/pedidos", params={"offset": 10_000}).json()
    assert beyond["itens"] == [] and beyond["paginacao"]["total"] == 60


@pytest.mark.parametrize("situacao", [8, 0, 3, 4, 1, 7, 5, 6, 2, 9])
def test_situacao_filter(sandbox, situacao) -> None:
    account = new_account(sandbox, orders=300, seed=77)
    with api_client(sandbox, account) as api:
        found = all_pages(api, "/pedidos", situacao=situacao)
    expected = {o.id for o in account.dataset.orders if o.situacao == situacao}
    assert set(ids(found)) == expected
    assert all(item["situacao"] == situacao for item in found)


def _midnight(epoch: float, days: int = 0) -> float:
    day = datetime.fromtimestamp(epoch, SAO_PAULO).date() + timedelta(days=days)
    return datetime.combine(day, datetime.min.time(), SAO_PAULO).timestamp()


@pytest.mark.parametrize("meaning", ["since_day", "day_only", "since_moment"])
def test_data_atualizacao_has_the_meaning_the_account_is_set_to(sandbox, meaning) -> None:
    account = new_account(sandbox, settings={"update_filter": meaning})
    orders = account.dataset.orders
    pivot = sorted(o.updated for o in orders)[len(orders) // 2]
    day_start, day_end = _midnight(pivot), _midnight(pivot, 1)
    with api_client(sandbox, account) as api:
        by_day = set(ids(all_pages(api, "/pedidos", dataAtualizacao=sp(pivot, "%Y-%m-%d"))))
        by_second = set(ids(all_pages(api, "/pedidos", dataAtualizacao=sp(pivot))))
    since_day = {o.id for o in orders if o.updated >= day_start}
    day_only = {o.id for o in orders if day_start <= o.updated < day_end}
    assert by_day == (day_only if meaning == "day_only" else since_day)
    # A time part: honoured by since_moment, ignored by the day meanings (the default reaction).
    expected = {"since_day": since_day, "day_only": day_only,
                "since_moment": {o.id for o in orders if o.updated >= pivot}}[meaning]
    assert by_second == expected and by_second <= by_day


@pytest.mark.parametrize("meaning", ["since_day", "day_only"])
def test_a_time_part_can_be_refused_under_the_day_meanings(sandbox, meaning) -> None:
    account = new_account(sandbox, settings={"update_filter": meaning, "update_filter_time": "reject"})
    with api_client(sandbox, account) as api:
        answer = api.get("/pedidos", params={"dataAtualizacao": "2026-11-10 10:00:00"})
        assert answer.status_code == 400
        assert answer.json()["detalhes"][0]["campo"] == "dataAtualizacao"
        assert api.get("/pedidos", params={"dataAtualizacao": "2026-11-10"}).status_code == 200


def test_the_older_switch_of_a_saved_state_still_reads(sandbox) -> None:
    account = new_account(sandbox, settings={"date_filter_ignores_time": True})
    assert (account.settings.update_filter, account.settings.update_filter_time) == ("since_day", "ignore")


def test_origem_pedido_filter_separates_pdv_sales(sandbox) -> None:
    account = new_account(sandbox, orders=300)
    pdv = {o.id for o in account.dataset.orders if o.origem == 1}
    assert pdv, "the dataset keeps a share of PDV sales"
    with api_client(sandbox, account) as api:
        assert set(ids(all_pages(api, "/pedidos", origemPedido=1))) == pdv
        assert set(ids(all_pages(api, "/pedidos", origemPedido=0))) == {o.id for o in account.dataset.orders} - pdv
        assert api.get("/pedidos", params={"origemPedido": 2}).status_code == 400


def test_creation_date_range_is_inclusive(api, account) -> None:
    orders = account.dataset.orders
    start, end = orders[10].created, orders[40].created
    found = ids(all_pages(api, "/pedidos", dataInicial=sp(start, "%Y-%m-%d"), dataFinal=sp(end, "%Y-%m-%d")))
    low = datetime.fromtimestamp(start, SAO_PAULO).replace(hour=0, minute=0, second=0).timestamp()
    high = datetime.fromtimestamp(end, SAO_PAULO).replace(hour=23, minute=59, second=59).timestamp()
    assert set(found) == {o.id for o in orders if low <= o.created <= high}
    assert {orders[10].id, orders[40].id} <= set(found)


def test_numero_ecommerce_and_document_filters(api, account) -> None:
    pedidos = all_pages(api, "/pedidos")
    target = next(p for p in pedidos if p.get("ecommerce") and p.get("cliente") and p["cliente"]["cpfCnpj"])
    assert ids(api.get("/pedidos", params={"numero": target["numeroPedido"]}).json()["itens"]) == [target["id"]]
    by_ecommerce = api.get("/pedidos", params={"numeroPedidoEcommerce": target["ecommerce"]["numeroPedidoEcommerce"]})
    assert target["id"] in ids(by_ecommerce.json()["itens"])
    document = target["cliente"]["cpfCnpj"]
    bare = "".join(c for c in document if c.isalnum())
    for form in (document, bare):
        found = api.get("/pedidos", params={"cpfCnpj": form}).json()["itens"]
        assert target["id"] in ids(found)
        assert all("".join(c for c in p["cliente"]["cpfCnpj"] if c.isalnum()) == bare for p in found)


def test_detail_adds_what_the_listing_lacks(api, account) -> None:
    order = next(o for o in account.dataset.orders if o.invoice is not None and o.cents
                 and not o.quirks & Quirk.VALOR_EMPTY)
    detail = api.get(f"/pedidos/{order.id}").json()
    assert detail["id"] == order.id
    assert detail["idNotaFiscal"] == order.invoice.id
    assert isinstance(detail["valorTotalPedido"], float)
    assert detail["valorTotalPedido"] == pytest.approx(order.cents / 100)
    assert detail["itens"] and detail["data"] == sp(order.created, "%Y-%m-%d")
    listing = next(p for p in all_pages(api, "/pedidos") if p["id"] == order.id)
    assert listing["valor"] in (f"{order.cents / 100:.2f}", str(order.cents // 100))


def test_notas_filters_and_origem(api, account) -> None:
    dataset = account.dataset
    notas = all_pages(api, "/notas")
    assert ids(notas) == sorted((i.id for i in dataset.invoices), reverse=True)
    for nota in notas:
        order = dataset.orders_by_id[int(nota["origem"]["id"])]
        assert nota["origem"]["tipo"] == "venda" and order.invoice.id == nota["id"]
    invoice = dataset.invoices[0]
    by_order = api.get("/notas", params={"idVenda": invoice.order_id}).json()
    assert ids(by_order["itens"]) == [invoice.id]
    by_number = api.get("/notas", params={"numero": invoice.numero}).json()
    assert invoice.id in ids(by_number["itens"])
    authorised = all_pages(api, "/notas", situacao=6)
    assert set(ids(authorised)) == {i.id for i in dataset.invoices if i.situacao == 6}
    assert api.get("/notas", params={"tipo": "E"}).json()["paginacao"]["total"] == 0
    detail = api.get(f"/notas/{invoice.id}").json()
    assert detail["origem"] == {"id": str(invoice.order_id), "tipo": "venda"}
    assert str(detail["numero"]).lstrip("0") == str(invoice.numero)


def test_formas_de_envio(api, account) -> None:
    listing = api.get("/formas-envio").json()
    assert listing["paginacao"]["total"] == len(account.dataset.formas) == len(listing["itens"])
    tipos = {f["tipo"] for f in listing["itens"]}
    assert {0, 1, 2, 3, 6, 7, 8, 12, 17} <= tipos
    correios = api.get("/formas-envio", params={"tipo": 1}).json()["itens"]
    assert [f["nome"] for f in correios] == ["Correios"]
    fretes = {f["nome"] for f in api.get(f"/formas-envio/{correios[0]['id']}").json()["formasFrete"]}
    assert {"SEDEX", "PAC", "Mini Envios"} <= fretes
    assert [f["nome"] for f in api.get("/formas-envio", params={"nome": "loggi"}).json()["itens"]] == ["Loggi"]
    transportadora = api.get("/formas-envio", params={"nome": "transportadora"}).json()["itens"]
    assert transportadora[0]["tipo"] == 2


def test_bad_parameters_answer_400_with_every_problem(api) -> None:
    answer = api.get("/pedidos", params={"situacao": "10", "limit": "0", "offset": "-1", "orderBy": "up",
                                         "dataAtualizacao": "29/11/2026"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["mensagem"] == "Ocorreram erros de validação"
    assert {d["campo"] for d in body["detalhes"]} == {"situacao", "limit", "offset", "orderBy", "dataAtualizacao"}
    assert api.get("/pedidos/abc").status_code == 400
    assert api.get("/notas", params={"situacao": 11}).status_code == 400
    assert api.get("/formas-envio", params={"tipo": 32}).status_code == 400


def test_unknown_ids_answer_404(api) -> None:
    for path in ("/pedidos/999", "/notas/999", "/formas-envio/999", "/clientes"):
        answer = api.get(path)
        assert answer.status_code == 404
        assert answer.json()["mensagem"]


def test_401_for_missing_invalid_expired_or_revoked_tokens(http, sandbox, account) -> None:
    url = f"{sandbox.api_url}/pedidos"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer"}).status_code == 401
    assert http.get(url, headers={"Authorization": "Basic abc"}).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    tokens = sandbox.issue_tokens(account)
    refresh_is_not_access = http.get(url, headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert refresh_is_not_access.status_code == 401
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert http.get(url, headers=bearer).status_code == 200
    sandbox.clock.advance(account.settings.access_lifetime)
    assert http.get(url, headers=bearer).status_code == 401
    fresh = {"Authorization": f"Bearer {sandbox.issue_tokens(account)['access_token']}"}
    assert http.get(url, headers=fresh).status_code == 200
    sandbox.revoke(account)
    expired = http.get(url, headers=fresh)
    assert expired.status_code == 401 and expired.headers["www-authenticate"].startswith("Bearer")


def test_every_answer_carries_a_request_id(http, sandbox, api) -> None:
    answers = [
        api.get("/pedidos"), api.get("/pedidos/1"), api.get("/info"), http.get(f"{sandbox.api_url}/info"),
        http.post(f"{sandbox.auth_url}/token", data={}), http.get(f"{sandbox.auth_url}/auth"),
        http.get(f"{sandbox.base_url}/_sandbox/health"), http.get(f"{sandbox.base_url}/nada"),
    ]
    request_ids = [a.headers.get("x-request-id") for a in answers]
    assert all(request_ids) and len(set(request_ids)) == len(request_ids)


def test_accounts_are_isolated(sandbox) -> None:
    first, second = new_account(sandbox, orders=5), new_account(sandbox, orders=7)
    with api_client(sandbox, first) as a, api_client(sandbox, second) as b:
        assert a.get("/pedidos").json()["paginacao"]["total"] == 5
        assert b.get("/pedidos").json()["paginacao"]["total"] == 7
        other_id = second.dataset.orders[0].id
        assert a.get(f"/pedidos/{other_id}").status_code == 404
        assert a.get("/info").json()["cpfCnpj"] != b.get("/info").json()["cpfCnpj"]


def test_delivery_addresses_differ_from_the_customers_for_a_realistic_share(sandbox) -> None:
    account = new_account(sandbox, orders=1500)
    dataset = account.dataset
    sales = [o for o in dataset.orders if o.origem == 0]
    kinds = [dataset.delivery(o).kind for o in sales]
    elsewhere = sum(k in ("gift", "work") for k in kinds) / len(kinds)
    assert 0.12 <= elsewhere <= 0.18 and kinds.count("gift") > kinds.count("work") > 0
    assert all(dataset.delivery(o) is None for o in dataset.orders if o.origem == 1)
    # The invoice listing and the detail carry it per the schema, with the recipient's name.
    gift = next(o for o in sales if dataset.delivery(o).kind == "gift" and o.invoice is not None
                and not o.quirks & (Quirk.CLIENTE_NULL | Quirk.CLIENTE_ABSENT | Quirk.ENDERECO_NULL))
    with api_client(sandbox, account) as api:
        nota = api.get("/notas", params={"idVenda": gift.id}).json()["itens"][0]
        detail = api.get(f"/pedidos/{gift.id}").json()
    assert nota["enderecoEntrega"] == detail["enderecoEntrega"]
    assert nota["enderecoEntrega"]["nomeDestinatario"] == dataset.delivery(gift).nome != detail["cliente"]["nome"]
    assert nota["enderecoEntrega"]["endereco"] == dataset.delivery(gift).endereco.endereco
