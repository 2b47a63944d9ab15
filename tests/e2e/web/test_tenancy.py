"""Tenant isolation: merchant B never sees, and gets 404 for, anything of merchant A."""

from __future__ import annotations

import attrs

from tests.builders import erp_order
from tests.e2e.web.conftest import CLIENT_ID, WebWorld, post_form
from tests.e2e.web.sample_data import UNKNOWN_SERVICE, shop_orders


def two_shops(world: WebWorld):  # type: ignore[no-untyped-def]
    a = world.merchant("Loja A", "a@loja-a.com.br")
    b = world.merchant("Loja B", "b@loja-b.com.br")
    world.connect(a)
    world.import_orders(a, shop_orders())
    world.gateway.account = "Conta da Loja B"
    world.connect(b)
    world.import_orders(b, [erp_order(n, number=f"B-{n}", ecommerce_number=f"ECB-{n}") for n in range(1, 4)])
    return a, b


def test_b_gets_404_for_every_page_and_api_object_of_a(world: WebWorld) -> None:
    a, b = two_shops(world)
    browser_b = world.client(b)
    api = world.app.test_client()
    order_ids, customer_ids = world.order_ids(a), world.customer_ids(a)
    assert order_ids and customer_ids
    for order_id in order_ids:
        assert browser_b.get(f"/orders/{order_id}").status_code == 404
        answer = api.get(f"/api/v1/orders/{order_id}", headers=b.bearer)
        assert answer.status_code == 404 and answer.json["error"] == "not_found"
    for customer_id in customer_ids:
        assert browser_b.get(f"/customers/{customer_id}").status_code == 404
    # ...while A sees them.
    browser_a = world.client(a)
    assert browser_a.get(f"/orders/{order_ids[0]}").status_code == 200
    assert browser_a.get(f"/customers/{customer_ids[0]}").status_code == 200
    assert api.get(f"/api/v1/orders/{order_ids[0]}", headers=a.bearer).status_code == 200


def test_b_lists_show_nothing_of_a(world: WebWorld) -> None:
    a, b = two_shops(world)
    browser_b = world.client(b)
    pages = "".join(
        browser_b.get(path).get_data(as_text=True)
        for path in (
            "/integrations",
            "/orders",
            "/orders?q=12004",
            "/orders?carrier=unknown",
            "/orders/failures",
            "/customers",
            "/customers?q=Rocha",
            "/carriers",
            "/situacoes",
        )
    )
    for marker in ("LJA-58", "Mariana Souza", "Rota Sul", "990001", "Loja Exemplo Ltda"):
        assert marker not in pages, marker
    assert "Conta da Loja B" in pages
    assert "Nenhum pedido encontrado" in browser_b.get("/orders?q=12004").get_data(as_text=True)
    api = world.app.test_client()
    orders = api.get("/api/v1/orders?per_page=100", headers=b.bearer).json
    assert orders["total"] == 3 and {o["number"] for o in orders["items"]} == {"B-1", "B-2", "B-3"}
    assert api.get("/api/v1/orders?q=12004", headers=b.bearer).json["total"] == 0
    customers = api.get("/api/v1/customers?per_page=100", headers=b.bearer).json
    assert set(world.customer_ids(a)).isdisjoint({c["id"] for c in customers["items"]})
    assert api.get("/api/v1/integrations/tiny", headers=b.bearer).json["account_name"] == "Conta da Loja B"


def test_b_mapping_a_shipping_service_touches_only_b_orders(world: WebWorld) -> None:
    a, b = two_shops(world)
    world.import_orders(b, [erp_order(9, number="B-9", shipping=UNKNOWN_SERVICE, tracking_code=None)])
    post_form(world.client(b), "/carriers", "/carriers", {"shipping_key": UNKNOWN_SERVICE.key, "carrier_code": "loggi"})
    orders = world.uow.read().orders.all()
    assert {o.carrier_code for o in orders if o.merchant_id == b.id and o.shipping_key == UNKNOWN_SERVICE.key} == {"loggi"}
    assert {o.carrier_code for o in orders if o.merchant_id == a.id and o.shipping_key == UNKNOWN_SERVICE.key} == {None}


def test_b_changing_its_settings_leaves_a_alone(world: WebWorld) -> None:
    a, b = two_shops(world)
    browser_b = world.client(b)
    post_form(browser_b, "/situacoes", "/situacoes", {"situacao_5": "ignore"})
    post_form(browser_b, "/integrations", "/integrations/tiny/disconnect")
    api = world.app.test_client()
    api.put("/api/v1/integrations/tiny", headers=b.bearer,
            json={"client_id": "tiny-api-outro", "invite_link": "https://tiny.com.br/convite/b"})
    a_connection = world.uow.read().connections.for_merchant(a.id)
    assert a_connection.status.value == "connected" and a_connection.client_id == CLIENT_ID
    mapping = api.get("/api/v1/integrations/tiny/status-mappings", headers=a.bearer).json["mappings"]
    assert {"situacao": 5, "action": "import"} in mapping
    assert attrs.asdict(world.uow.read().status_mappings.get(world.connection_id(a))) == attrs.asdict(
        world.uow.read().status_mappings.get(0)
    )  # A still has the defaults
