"""The JSON API: Bearer keys, exact shapes, 401 / 404 / 409 / 422 answers."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from kanglu.domain.orders import MalformedOrder
from kanglu.domain.situacoes import Situacao
from tests.builders import erp_order
from tests.e2e.web.conftest import CLIENT_ID, CLIENT_SECRET, INVITE_LINK, Account, WebWorld

ORDER_KEYS = {
    "id", "erp_order_id", "number", "ecommerce_number", "situacao", "total", "created_at", "customer", "invoice",
    "carrier", "tracking_code", "tracking_url", "tracking_status", "import_error", "warnings", "shipping_address",
}
CUSTOMER_KEYS = {"id", "name", "document", "phone", "email", "address"}
ADDRESS_KEYS = {"street", "number", "complement", "district", "city", "state", "zip", "country"}
INTEGRATION_KEYS = {
    "status", "client_id", "invite_link", "redirect_url", "account_name", "connected_at", "last_sync_at", "last_error",
    "missing_permissions", "next_sync_at",
}


@pytest.fixture
def api(world: WebWorld) -> FlaskClient:
    return world.app.test_client()


@pytest.fixture
def connected(world: WebWorld) -> Account:
    account = world.merchant()
    world.connect(account)
    return account


def test_without_a_valid_key_every_route_answers_401_json(world: WebWorld, api: FlaskClient) -> None:
    account = world.merchant()
    routes = [("get", "/integrations/tiny"), ("put", "/integrations/tiny"), ("delete", "/integrations/tiny"),
              ("post", "/integrations/tiny/authorize"), ("get", "/integrations/tiny/status-mappings"),
              ("put", "/integrations/tiny/status-mappings"), ("get", "/orders"), ("get", "/orders/1"),
              ("get", "/customers")]
    headers = [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer kgl_nao-existe"},
               {"Authorization": f"Basic {account.api_key}"}, {"Authorization": account.api_key},
               {"Authorization": "Bearer " + "x" * 5000}]
    for method, path in routes:
        for header in headers:
            answer = getattr(api, method)("/api/v1" + path, headers=header, json={})
            assert answer.status_code == 401, (method, path, header)
            assert answer.json["error"] == "unauthorized"
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get("/api/v1/orders", headers={"Authorization": f"bearer {account.api_key}"}).status_code == 200


def test_the_integration_before_and_after_configuration(world: WebWorld, api: FlaskClient) -> None:
    account = world.merchant()
    empty = api.get("/api/v1/integrations/tiny", headers=account.bearer).json
    assert empty == {
        "status": "not_configured", "client_id": None, "invite_link": None,
        "redirect_url": "http://kanglu.test/integrations/tiny/callback", "account_name": None,
        "connected_at": None, "last_sync_at": None, "last_error": None, "missing_permissions": [], "next_sync_at": None,
    }
    saved = api.put("/api/v1/integrations/tiny", headers=account.bearer,
                    json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "invite_link": INVITE_LINK})
    assert saved.status_code == 200
    assert saved.json["status"] == "pending" and saved.json["client_id"] == CLIENT_ID
    assert set(saved.json) == INTEGRATION_KEYS and CLIENT_SECRET not in saved.get_data(as_text=True)
    # Leaving the secret out keeps it.
    again = api.put("/api/v1/integrations/tiny", headers=account.bearer,
                    json={"client_id": CLIENT_ID, "invite_link": INVITE_LINK})
    assert again.status_code == 200

    authorize = api.post("/api/v1/integrations/tiny/authorize", headers=account.bearer)
    assert authorize.status_code == 200 and set(authorize.json) == {"authorize_url"}
    state = parse_qs(urlsplit(authorize.json["authorize_url"]).query)["state"][0]
    world.client().get(f"/integrations/tiny/callback?code={world.oauth.issue_code()}&state={state}")
    connected = api.get("/api/v1/integrations/tiny", headers=account.bearer).json
    assert connected["status"] == "connected" and connected["account_name"] == "Loja Exemplo Ltda"
    assert datetime.fromisoformat(connected["connected_at"]) == world.clock.now()

    gone = api.delete("/api/v1/integrations/tiny", headers=account.bearer)
    assert gone.status_code == 200 and gone.json["status"] == "disconnected"
    assert gone.json["last_error"] == "integração desconectada pelo lojista"


def test_delete_without_an_integration_answers_not_configured(world: WebWorld, api: FlaskClient) -> None:
    account = world.merchant()
    answer = api.delete("/api/v1/integrations/tiny", headers=account.bearer)
    assert answer.status_code == 200 and answer.json["status"] == "not_configured"


def test_authorize_before_configuration_is_a_409(world: WebWorld, api: FlaskClient) -> None:
    account = world.merchant()
    answer = api.post("/api/v1/integrations/tiny/authorize", headers=account.bearer)
    assert answer.status_code == 409 and answer.json["error"] == "conflict"
    assert "Client ID" in answer.json["message"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, {"invite_link"}),
        ({"client_id": 42, "client_secret": CLIENT_SECRET, "invite_link": INVITE_LINK}, {"client_id"}),
        ({"client_id": "com espaço", "client_secret": CLIENT_SECRET, "invite_link": INVITE_LINK}, {"client_id"}),
        ({"client_id": "abc", "client_secret": CLIENT_SECRET, "invite_link": INVITE_LINK}, {"client_id"}),
        ({"client_id": "", "client_secret": "", "invite_link": "http://tiny.com.br/x"},
         {"client_id", "client_secret", "invite_link"}),
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "invite_link": "https://tiny.com.br.evil.com/x"},
         {"invite_link"}),
        ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "invite_link": "https://x" + "a" * 2000 + ".tiny.com.br"},
         {"invite_link"}),
        ({"client_id": CLIENT_ID, "invite_link": INVITE_LINK}, {"client_secret"}),  # never saved one
        ([], {"body"}),
        ("texto", {"body"}),
        (None, {"body"}),
    ],
)
def test_bad_credentials_get_422_with_field_errors(world: WebWorld, api: FlaskClient, body, fields) -> None:  # type: ignore[no-untyped-def]
    account = world.merchant()
    answer = api.put("/api/v1/integrations/tiny", headers=account.bearer, json=body)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"] == "invalid_input"
    assert set(answer.json["errors"]) == fields
    assert all(isinstance(m, str) and m for m in answer.json["errors"].values())
    assert world.uow.read().connections.for_merchant(account.id) is None


def test_a_body_that_is_not_json_gets_422(world: WebWorld, api: FlaskClient) -> None:
    account = world.merchant()
    for data in (b"{nope", b"", "client_id=x".encode(), b"[" * 100_000, b"\xff\xfe{"):
        answer = api.put("/api/v1/integrations/tiny", headers=account.bearer, data=data,
                         content_type="application/json")
        assert answer.status_code == 422 and answer.json["errors"] == {"body": "envie um objeto JSON válido"}


def test_the_sandbox_auth_host_is_accepted_as_invite_link(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.web.conftest import test_settings

    world = WebWorld(settings=test_settings(tmp_path, auth_url="http://127.0.0.1:8765/realms/tiny/protocol/openid-connect"))
    account = world.merchant()
    answer = world.app.test_client().put(
        "/api/v1/integrations/tiny", headers=account.bearer,
        json={"client_id": "tiny-api-sandbox-1", "client_secret": "s3cr3t", "invite_link": "http://127.0.0.1:8765/convite/1"},
    )
    assert answer.status_code == 200, answer.json


def test_status_mappings_read_and_change(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    current = api.get("/api/v1/integrations/tiny/status-mappings", headers=connected.bearer).json
    assert [m["situacao"] for m in current["mappings"]] == [int(s) for s in Situacao]
    assert {"situacao": 1, "action": "import"} in current["mappings"]
    assert {"situacao": 6, "action": "mark_delivered"} in current["mappings"]
    assert {"situacao": 2, "action": "cancel_tracking"} in current["mappings"]
    assert {"situacao": 0, "action": "ignore"} in current["mappings"]
    changed = api.put("/api/v1/integrations/tiny/status-mappings", headers=connected.bearer,
                      json={"mappings": [{"situacao": 9, "action": "cancel_tracking"}, {"situacao": 1, "action": "ignore"},
                                         {"situacao": 9, "action": "mark_delivered"}]})
    assert changed.status_code == 200
    assert {"situacao": 9, "action": "mark_delivered"} in changed.json["mappings"]  # the last one wins
    assert {"situacao": 1, "action": "ignore"} in changed.json["mappings"]
    assert {"situacao": 5, "action": "import"} in changed.json["mappings"]  # untouched
    assert api.get("/api/v1/integrations/tiny/status-mappings", headers=connected.bearer).json == changed.json


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"mappings"}),
        ({"mappings": {"1": "import"}}, {"mappings"}),
        ({"mappings": [{"situacao": 42, "action": "import"}]}, {"mappings[0].situacao"}),
        ({"mappings": [{"situacao": "1", "action": "import"}]}, {"mappings[0].situacao"}),
        ({"mappings": [{"situacao": True, "action": "import"}]}, {"mappings[0].situacao"}),
        ({"mappings": [{"situacao": 1, "action": "explodir"}]}, {"mappings[0].action"}),
        ({"mappings": [{"situacao": 1}, 7]}, {"mappings[0].action", "mappings[1]"}),
    ],
)
def test_bad_status_mappings_get_422_with_field_errors(world: WebWorld, api: FlaskClient, connected: Account, body, fields) -> None:  # type: ignore[no-untyped-def]
    answer = api.put("/api/v1/integrations/tiny/status-mappings", headers=connected.bearer, json=body)
    assert answer.status_code == 422
    assert set(answer.json["errors"]) == fields


def test_status_mappings_without_an_integration(world: WebWorld, api: FlaskClient) -> None:
    account = world.merchant()
    defaults = api.get("/api/v1/integrations/tiny/status-mappings", headers=account.bearer)
    assert defaults.status_code == 200 and {"situacao": 5, "action": "import"} in defaults.json["mappings"]
    answer = api.put("/api/v1/integrations/tiny/status-mappings", headers=account.bearer,
                     json={"mappings": [{"situacao": 5, "action": "ignore"}]})
    assert answer.status_code == 409


def test_an_order_has_exactly_the_contract_shape(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    order = erp_order(3, created_at=datetime(2026, 6, 30, 14, 5, 9))
    world.import_orders(connected, [order])
    listing = api.get("/api/v1/orders", headers=connected.bearer).json
    assert set(listing) == {"items", "page", "per_page", "total"}
    assert (listing["page"], listing["per_page"], listing["total"]) == (1, 20, 1)
    item = listing["items"][0]
    assert set(item) == ORDER_KEYS
    assert api.get(f"/api/v1/orders/{item['id']}", headers=connected.bearer).json == item
    assert item["erp_order_id"] == 3 and item["number"] == "10003" and item["ecommerce_number"] == "MLB-3"
    assert item["situacao"] == 5 and item["total"] == "199.90"
    assert item["created_at"] == "2026-06-30T14:05:09-03:00"  # Tiny's São Paulo wall time, with its offset
    assert set(item["customer"]) == CUSTOMER_KEYS and set(item["customer"]["address"]) == ADDRESS_KEYS
    assert item["customer"]["document"] == order.customer.document.value and item["customer"]["document"].isdigit()
    assert item["customer"]["address"]["zip"] == "01001000"
    assert item["invoice"] == {"number": "503", "series": "1", "access_key": order.invoice.access_key.value}
    assert item["carrier"] == {"code": "correios", "name": "Correios"}
    assert item["tracking_code"] == order.tracking_code.value
    assert item["tracking_url"].endswith(order.tracking_code.value)
    assert item["tracking_status"] == "tracking" and item["import_error"] is None


def test_an_order_without_invoice_carrier_or_customer_has_nulls(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    from kanglu.domain.shipping import ShippingService

    world.import_orders(connected, [erp_order(4, invoice=None, customer=None, tracking_code=None,
                                              shipping=ShippingService(service_name="Retirada na loja"))])
    world.import_orders(connected, [MalformedOrder(4, "CPF inválido", {})])
    item = api.get("/api/v1/orders", headers=connected.bearer).json["items"][0]
    assert item["invoice"] is None and item["carrier"] is None and item["customer"] is None
    assert item["tracking_code"] is None and item["tracking_status"] == "waiting_data"
    assert item["created_at"] == "2026-06-30" and item["import_error"] == "CPF inválido"


def test_orders_filter_search_and_paginate(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    world.import_orders(connected, [erp_order(n, situacao=Situacao.ENTREGUE if n % 3 == 0 else Situacao.ENVIADA,
                                              created_at=datetime(2026, 6, 1 + n, 10, 0)) for n in range(1, 26)])
    page2 = api.get("/api/v1/orders?per_page=10&page=2", headers=connected.bearer).json
    assert (page2["page"], page2["per_page"], page2["total"]) == (2, 10, 25)
    assert [o["erp_order_id"] for o in page2["items"]] == list(range(15, 5, -1))
    delivered = api.get("/api/v1/orders?situacao=6&per_page=100", headers=connected.bearer).json
    assert {o["erp_order_id"] for o in delivered["items"]} == {n for n in range(1, 26) if n % 3 == 0}
    found = api.get("/api/v1/orders?q=MLB-7", headers=connected.bearer).json
    assert [o["erp_order_id"] for o in found["items"]] == [7]
    beyond = api.get("/api/v1/orders?page=99", headers=connected.bearer).json
    assert beyond["items"] == [] and beyond["total"] == 25


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("situacao=42", {"situacao"}),
        ("situacao=abc", {"situacao"}),
        ("situacao=", {"situacao"}),
        ("page=0", {"page"}),
        ("page=-1", {"page"}),
        ("page=1.5", {"page"}),
        ("page=99999999999", {"page"}),
        ("per_page=0", {"per_page"}),
        ("per_page=101", {"per_page"}),
        ("q=" + "x" * 201, {"q"}),
        ("page=a&per_page=b&situacao=c", {"page", "per_page", "situacao"}),
    ],
)
def test_bad_query_parameters_get_422(world: WebWorld, api: FlaskClient, connected: Account, query, fields) -> None:  # type: ignore[no-untyped-def]
    answer = api.get(f"/api/v1/orders?{query}", headers=connected.bearer)
    assert answer.status_code == 422 and set(answer.json["errors"]) == fields
    if "situacao" not in fields:
        answer = api.get(f"/api/v1/customers?{query}", headers=connected.bearer)
        assert answer.status_code == 422 and set(answer.json["errors"]) == fields


def test_unknown_orders_are_404_json(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    for path in ("/orders/999999", "/orders/0", f"/orders/{2**63}", "/orders/abc", "/nao-existe"):
        answer = api.get("/api/v1" + path, headers=connected.bearer)
        assert answer.status_code == 404, path
        assert answer.json["error"] == "not_found"


def test_a_wrong_method_is_405_json_with_allow(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    answer = api.post("/api/v1/orders", headers=connected.bearer)
    assert answer.status_code == 405 and answer.json["error"] == "method_not_allowed"
    assert "GET" in answer.headers["Allow"]


def test_customers_list_and_search(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    world.import_orders(connected, [erp_order(n) for n in range(1, 6)])
    listing = api.get("/api/v1/customers", headers=connected.bearer).json
    assert listing["total"] == 5 and [c["name"] for c in listing["items"]] == [f"Cliente {n}" for n in range(1, 6)]
    assert all(set(c) == CUSTOMER_KEYS for c in listing["items"])
    by_email = api.get("/api/v1/customers?q=cliente3@example.com", headers=connected.bearer).json
    assert [c["name"] for c in by_email["items"]] == ["Cliente 3"]
    document = listing["items"][1]["document"]
    formatted = f"{document[:3]}.{document[3:6]}.{document[6:9]}-{document[9:]}"
    assert [c["document"] for c in api.get(f"/api/v1/customers?q={formatted}", headers=connected.bearer).json["items"]] == [document]


def test_the_api_never_sets_a_session_cookie(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    for answer in (api.get("/api/v1/orders", headers=connected.bearer), api.get("/api/v1/orders")):
        assert "Set-Cookie" not in answer.headers


def test_openapi_document_is_public_json(world: WebWorld, api: FlaskClient) -> None:
    document = api.get("/api/v1/openapi.json")
    assert document.status_code == 200 and document.json["openapi"].startswith("3.1")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", document.json["info"]["version"])


def test_import_failures_are_listed_and_retried(world: WebWorld, api: FlaskClient, connected: Account) -> None:
    world.import_orders(connected, [
        MalformedOrder(777, "situação desconhecida: 77", {"id": 777}, number="12777", customer_name="Joana Prado"),
        MalformedOrder(None, "o Tiny enviou este pedido sem um identificador utilizável", {}),
    ])
    listing = api.get("/api/v1/import-failures", headers=connected.bearer).json
    assert set(listing) == {"items", "page", "per_page", "total"} and listing["total"] == 2
    by_id = {item["erp_order_id"]: item for item in listing["items"]}
    assert set(by_id[777]) == {"id", "erp_order_id", "number", "customer_name", "reason", "first_seen_at",
                               "last_seen_at", "erp_url"}
    assert (by_id[777]["number"], by_id[777]["customer_name"]) == ("12777", "Joana Prado")
    assert by_id[777]["erp_url"] == "https://erp.tiny.com.br/vendas#edit/777" and by_id[None]["erp_url"] is None

    assert api.post(f"/api/v1/import-failures/{by_id[None]['id']}/retry", headers=connected.bearer).status_code == 409
    assert api.post("/api/v1/import-failures/999999/retry", headers=connected.bearer).status_code == 404
    world.gateway.details[777] = erp_order(777)
    answer = api.post(f"/api/v1/import-failures/{by_id[777]['id']}/retry", headers=connected.bearer)
    assert answer.status_code == 202 and answer.json == {"id": by_id[777]["id"], "outcome": "imported", "reason": None}
    assert api.get("/api/v1/import-failures", headers=connected.bearer).json["total"] == 1
    order = api.get("/api/v1/orders", headers=connected.bearer).json["items"][0]
    assert order["erp_order_id"] == 777 and order["warnings"] == []


def test_an_order_without_a_total_says_null_and_lists_its_warnings(
    world: WebWorld, api: FlaskClient, connected: Account
) -> None:
    from kanglu.domain.orders import OrderWarning

    warning = OrderWarning("total", "O Tiny não informou o valor deste pedido, então o total fica em branco.")
    world.import_orders(connected, [erp_order(3, total=None, warnings=(warning,))])
    order = api.get("/api/v1/orders", headers=connected.bearer).json["items"][0]
    assert order["total"] is None
    assert order["warnings"] == [{"field": "total", "message": warning.message}]
