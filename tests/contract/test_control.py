"""The control API: accounts, life in Tiny (situação, tracking, invoices, new orders), counters, clock."""

from __future__ import annotations

from tests.contract.conftest import all_pages, api_client, new_account


def control(sandbox, path: str) -> str:
    return f"{sandbox.base_url}/_sandbox{path}"


def test_create_accounts_over_http(http, sandbox) -> None:
    answer = http.post(control(sandbox, "/accounts"), json={"orders": 12, "seed": 5, "rate_limit": 30,
                                                              "redirect_uri": "http://127.0.0.1:9000/cb"})
    assert answer.status_code == 201
    creds = answer.json()
    assert set(creds) >= {"account_id", "client_id", "client_secret", "api_url", "auth_url", "redirect_uri",
                          "invite_link"}
    assert creds["redirect_uri"] == "http://127.0.0.1:9000/cb"
    prefix, hex_part, stamp = creds["client_id"].rsplit("-", 2)
    assert prefix == "tiny-api" and len(hex_part) == 40 and int(hex_part, 16) >= 0 and stamp.isdigit()
    described = http.get(control(sandbox, f"/accounts/{creds['account_id']}")).json()
    assert described["orders"] == 12 and described["settings"]["rate_limit"] == 30
    assert http.get(control(sandbox, f"/accounts/{creds['client_id']}")).json()["account_id"] == creds["account_id"]
    tokens = http.post(control(sandbox, f"/accounts/{creds['account_id']}/tokens")).json()
    page = http.get(f"{creds['api_url']}/pedidos", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert page.json()["paginacao"]["total"] == 12
    assert page.headers["x-ratelimit-limit"] == "30"


def test_a_fixed_client_id_must_have_tinys_shape(http, sandbox) -> None:
    refused = http.post(control(sandbox, "/accounts"), json={"orders": 1, "client_id": "abc"})
    assert refused.status_code == 400 and "tiny-api-" in refused.json()["error"]
    fixed = "tiny-api-" + "ab" * 20 + "-1730000000"
    created = http.post(control(sandbox, "/accounts"), json={"orders": 1, "client_id": fixed})
    assert created.status_code == 201 and created.json()["client_id"] == fixed


def test_create_many_accounts_at_once(http, sandbox) -> None:
    answer = http.post(control(sandbox, "/accounts"), json={"count": 3, "orders": 2, "seed": 900})
    created = answer.json()["accounts"]
    assert len(created) == 3 and len({c["client_id"] for c in created}) == 3
    listed = {a["account_id"] for a in http.get(control(sandbox, "/accounts")).json()["accounts"]}
    assert {c["account_id"] for c in created} <= listed


def test_bad_control_requests(http, sandbox, account) -> None:
    assert http.post(control(sandbox, "/accounts"), json={"oders": 1}).status_code == 400
    assert http.post(control(sandbox, "/accounts"), json={"count": None}).status_code == 400
    assert http.post(control(sandbox, "/accounts"), json={"malformed_rate": "x"}).status_code == 400
    assert http.post(control(sandbox, "/accounts"), content=b"[1]").status_code == 400
    assert http.post(control(sandbox, "/accounts"), json={"account_id": account.id}).status_code == 400
    assert http.get(control(sandbox, "/accounts/nobody")).status_code == 404
    assert http.get(control(sandbox, f"/accounts/{account.id}/orders/1")).status_code == 404
    assert http.patch(control(sandbox, f"/accounts/{account.id}"), json={"rate_limit": -1}).status_code == 400
    assert http.patch(control(sandbox, f"/accounts/{account.id}"), json={"update_filter": "weekly"}).status_code == 400
    switched = http.patch(control(sandbox, f"/accounts/{account.id}"),
                          json={"update_filter": "day_only", "update_filter_time": "reject"})
    assert switched.json()["settings"]["update_filter"] == "day_only"
    assert switched.json()["settings"]["update_filter_time"] == "reject"
    assert http.get(control(sandbox, "/nothing")).status_code == 404


def test_orders_truth_lists_every_order_with_its_malformed_flag(http, sandbox) -> None:
    account = new_account(sandbox, orders=200, malformed_rate=0.2)
    truth = http.get(control(sandbox, f"/accounts/{account.id}/orders")).json()
    assert truth["total"] == 200
    spoilt = http.get(control(sandbox, f"/accounts/{account.id}/orders?malformed=1")).json()["orders"]
    assert spoilt and all(o["malformed"] in ("cpf_invalido", "chave_acesso_invalida",
                                             "codigo_rastreamento_invalido") for o in spoilt)
    assert {o["id"] for o in spoilt} == {o.id for o in account.dataset.orders if o.malformed is not None}
    paged = http.get(control(sandbox, f"/accounts/{account.id}/orders?offset=190&limit=50")).json()
    assert paged["total"] == 200 and [o["id"] for o in paged["orders"]] == [o.id for o in account.dataset.orders[190:]]
    shipped = http.get(control(sandbox, f"/accounts/{account.id}/orders?situacao=5,6")).json()["orders"]
    assert {o["situacao"] for o in shipped} == {5, 6}
    one = http.get(control(sandbox, f"/accounts/{account.id}/orders/{shipped[0]['id']}")).json()
    assert one["detalhe"]["id"] == shipped[0]["id"]


def test_changing_situacao_bumps_data_atualizacao_and_shows_in_the_api(http, sandbox, account, api) -> None:
    account.settings.update({"update_filter": "since_moment"})  # so that a time part narrows the listing
    order = account.dataset.orders[0]
    sandbox.clock.advance(3600)
    since = http.get(control(sandbox, "/clock")).json()["sao_paulo"]
    assert all_pages(api, "/pedidos", dataAtualizacao=since) == []
    changed = http.put(control(sandbox, f"/accounts/{account.id}/orders/{order.id}/situacao"), json={"situacao": 9})
    assert changed.status_code == 200
    assert changed.json()["dataAtualizacao"] == since
    found = all_pages(api, "/pedidos", dataAtualizacao=since)
    assert [(p["id"], p["situacao"]) for p in found] == [(order.id, 9)]
    bad = http.put(control(sandbox, f"/accounts/{account.id}/orders/{order.id}/situacao"), json={"situacao": 10})
    assert bad.status_code == 400


def test_tracking_codes_on_order_invoice_or_both(http, sandbox, account, api) -> None:
    order = next(o for o in account.dataset.orders if o.invoice is not None and o.forma is not None
                 and o.forma.make_code is not None)
    url = control(sandbox, f"/accounts/{account.id}/orders/{order.id}/tracking")
    set_both = http.put(url, json={"codigo": "QB123456785BR", "target": "both"}).json()
    assert set_both["codigoRastreamento"] == "QB123456785BR"
    assert set_both["nota"]["codigoRastreamento"] == "QB123456785BR"
    listing = api.get("/pedidos", params={"numero": order.numero}).json()["itens"][0]
    if listing.get("transportador"):
        assert listing["transportador"]["codigoRastreamento"] == "QB123456785BR"
    assert api.get(f"/notas/{order.invoice.id}").json()["codigoRastreamento"] == "QB123456785BR"
    cleared = http.put(url, json={"codigo": None, "target": "order"}).json()
    assert cleared["codigoRastreamento"] is None and cleared["nota"]["codigoRastreamento"] == "QB123456785BR"
    generated = http.put(url, json={"target": "order"}).json()
    assert generated["codigoRastreamento"]


def test_issuing_an_invoice_makes_it_visible_in_notas(http, sandbox, account, api) -> None:
    order = next(o for o in account.dataset.orders if o.invoice is None)
    url = control(sandbox, f"/accounts/{account.id}/orders/{order.id}/invoice")
    issued = http.post(url, json={"situacao": 6})
    assert issued.status_code == 201
    nota = issued.json()["nota"]
    assert nota["chaveAcesso"] and len(nota["chaveAcesso"]) == 44
    found = api.get("/notas", params={"idVenda": order.id}).json()["itens"]
    assert [n["id"] for n in found] == [nota["id"]]
    assert api.get(f"/pedidos/{order.id}").json()["idNotaFiscal"] == nota["id"]
    assert http.post(url, json={}).status_code == 409


def test_new_orders_get_higher_ids_and_appear_first(http, sandbox, account, api) -> None:
    highest = max(o.id for o in account.dataset.orders)
    added = http.post(control(sandbox, f"/accounts/{account.id}/orders"), json={"count": 3, "situacao": 1})
    assert added.status_code == 201
    new_ids = [o["id"] for o in added.json()["orders"]]
    assert min(new_ids) > highest and new_ids == sorted(new_ids)
    assert all(o["situacao"] == 1 for o in added.json()["orders"])
    first_page = api.get("/pedidos", params={"limit": 3}).json()
    assert [p["id"] for p in first_page["itens"]] == sorted(new_ids, reverse=True)
    assert first_page["paginacao"]["total"] == 63


def test_touch_only_bumps_the_date(http, sandbox, account) -> None:
    order = account.dataset.orders[5]
    situacao, before = order.situacao, order.updated
    sandbox.clock.advance(60)
    touched = http.post(control(sandbox, f"/accounts/{account.id}/orders/{order.id}/touch")).json()
    assert touched["situacao"] == situacao and touched["updated_epoch"] > before


def test_counters_per_endpoint_status_and_account_and_reset(http, sandbox) -> None:
    account = new_account(sandbox, orders=3)
    with api_client(sandbox, account) as api:
        api.get("/pedidos")
        api.get("/pedidos")
        api.get("/pedidos/1")
        api.get("/info")
    mine = http.get(control(sandbox, f"/accounts/{account.id}/counters")).json()
    assert mine["api"]["GET /pedidos"] == {"total": 2, "by_status": {"200": 2}}
    assert mine["api"]["GET /pedidos/{idPedido}"]["by_status"] == {"404": 1}
    assert mine["by_status"] == {"200": 3, "404": 1} and mine["total"] == 4
    everything = http.get(control(sandbox, "/counters?accounts=1")).json()
    assert everything["accounts"][account.id] == mine
    assert everything["global"]["api"]["GET /pedidos"]["total"] >= 2
    http.delete(control(sandbox, f"/accounts/{account.id}/counters"))
    assert http.get(control(sandbox, f"/accounts/{account.id}/counters")).json()["total"] == 0


def test_the_clock_moves_forward_only(http, sandbox) -> None:
    now = http.get(control(sandbox, "/clock")).json()["now"]
    later = http.post(control(sandbox, "/clock"), json={"advance": 10}).json()["now"]
    assert later == now + 10
    assert http.post(control(sandbox, "/clock"), json={"advance": -5}).status_code == 400
