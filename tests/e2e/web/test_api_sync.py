"""The JSON API of issue 18: sync now, the history, alerts' settings, carrier mappings, and the
parity of /orders with the Pedidos page (filters, unknown parameters, enum errors, offsets)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from tests.e2e.web.conftest import Account, WebWorld
from tests.e2e.web.sample_data import UNKNOWN_SERVICE, shop_orders


@pytest.fixture
def api(world: WebWorld) -> FlaskClient:
    return world.app.test_client()


@pytest.fixture
def account(world: WebWorld) -> Account:
    account = world.merchant()
    world.connect(account)
    return account


def test_sync_now_then_429_within_the_minute(world: WebWorld, api: FlaskClient, account: Account) -> None:
    world.clock.advance(timedelta(minutes=5))
    first = api.post("/api/v1/integrations/tiny/sync", headers=account.bearer)
    assert first.status_code == 202
    assert first.json["next_sync_at"].endswith("-03:00")
    assert api.get("/api/v1/integrations/tiny", headers=account.bearer).json["next_sync_at"] == first.json["next_sync_at"]
    world.clock.advance(timedelta(seconds=20))
    again = api.post("/api/v1/integrations/tiny/sync", headers=account.bearer)
    assert again.status_code == 429 and again.headers["Retry-After"] == "40"
    assert again.json["error"] == "too_many_requests"
    assert again.json["next_sync_at"] == first.json["next_sync_at"]  # nothing more was scheduled
    other = world.merchant("Outra", "outra@loja.com.br")
    assert api.post("/api/v1/integrations/tiny/sync", headers=other.bearer).status_code == 409


def test_integration_timestamps_carry_the_sao_paulo_offset_and_last_error_is_a_plain_reason(
    world: WebWorld, api: FlaskClient, account: Account
) -> None:
    body = api.get("/api/v1/integrations/tiny", headers=account.bearer).json
    assert body["connected_at"].endswith("-03:00")
    gone = api.delete("/api/v1/integrations/tiny", headers=account.bearer).json
    assert gone["last_error"] == "integração desconectada pelo lojista" and "Clique" not in gone["last_error"]
    assert gone["next_sync_at"] is None


def test_the_history_newest_first_and_paged(world: WebWorld, api: FlaskClient, account: Account) -> None:
    api.delete("/api/v1/integrations/tiny", headers=account.bearer)
    body = api.get("/api/v1/integrations/tiny/events?per_page=1", headers=account.bearer).json
    assert body["total"] == 2 and body["per_page"] == 1
    [newest] = body["items"]
    assert newest["kind"] == "disconnected" and newest["at"].endswith("-03:00")
    assert set(newest) == {"at", "kind", "message", "imported", "updated", "failed", "api_calls"}


@pytest.mark.parametrize("path", ["/orders", "/customers", "/integrations/tiny/events"])
def test_an_unknown_parameter_is_a_400_that_lists_the_known_ones(api: FlaskClient, account: Account, path: str) -> None:
    answer = api.get(f"/api/v1{path}?carrer=correios", headers=account.bearer)
    assert answer.status_code == 400
    assert answer.json["error"] == "unknown_parameter" and "carrer" in answer.json["errors"]
    assert "page, per_page" in answer.json["message"]


def test_orders_take_every_filter_of_the_pedidos_page(world: WebWorld, api: FlaskClient, account: Account) -> None:
    world.import_orders(account, shop_orders(30))
    everything = api.get("/api/v1/orders?per_page=100", headers=account.bearer).json
    correios = api.get("/api/v1/orders?carrier=correios&per_page=100", headers=account.bearer).json
    assert 0 < correios["total"] < everything["total"]
    assert {o["carrier"]["code"] for o in correios["items"]} == {"correios"}
    unknown = api.get("/api/v1/orders?carrier=unknown&per_page=100", headers=account.bearer).json
    assert unknown["total"] > 0 and all(o["carrier"] is None for o in unknown["items"])
    tracking = api.get("/api/v1/orders?tracking_status=tracking&per_page=100", headers=account.bearer).json
    assert {o["tracking_status"] for o in tracking["items"]} == {"tracking"}
    later = (world.clock.now() + timedelta(hours=1)).isoformat()
    assert api.get("/api/v1/orders", query_string={"updated_since": later}, headers=account.bearer).json["total"] == 0
    assert api.get("/api/v1/orders?updated_since=2020-01-01", headers=account.bearer).json["total"] == everything["total"]


def test_enum_errors_list_the_allowed_values(api: FlaskClient, account: Account) -> None:
    bad = api.get("/api/v1/orders?tracking_status=lost&carrier=pombo&situacao=42", headers=account.bearer)
    assert bad.status_code == 422
    errors = bad.json["errors"]
    assert "waiting_data, tracking, delivered ou cancelled" in errors["tracking_status"]
    assert "correios" in errors["carrier"] and "none" in errors["carrier"] and "unknown" in errors["carrier"]
    assert "0, 1, 2" in errors["situacao"]
    wrong = api.put("/api/v1/integrations/tiny/status-mappings", headers=account.bearer,
                    json={"mappings": [{"situacao": 1, "action": "importar"}]})
    assert wrong.status_code == 422
    assert "import, mark_delivered, cancel_tracking ou ignore" in wrong.json["errors"]["mappings[0].action"]


def test_notifications_default_on_and_the_secret_once(api: FlaskClient, account: Account) -> None:
    assert api.get("/api/v1/notifications", headers=account.bearer).json == {
        "email": True, "webhook_url": None, "webhook_secret": None}
    saved = api.put("/api/v1/notifications", headers=account.bearer,
                    json={"email": False, "webhook_url": "https://loja.example/kanglu"}).json
    assert saved["webhook_secret"].startswith("whsec_") and saved["email"] is False
    assert api.get("/api/v1/notifications", headers=account.bearer).json["webhook_secret"] is None
    refused = api.put("/api/v1/notifications", headers=account.bearer, json={"webhook_url": "http://loja.example"})
    assert refused.status_code == 422 and "webhook_url" in refused.json["errors"]
    cleared = api.put("/api/v1/notifications", headers=account.bearer, json={}).json
    assert cleared == {"email": True, "webhook_url": None, "webhook_secret": None}


def test_carrier_mappings_saved_listed_changed_not_tracked_and_removed(
    world: WebWorld, api: FlaskClient, account: Account
) -> None:
    world.import_orders(account, shop_orders(30))
    waiting = api.get("/api/v1/orders?carrier=unknown&per_page=100", headers=account.bearer).json["total"]
    label = UNKNOWN_SERVICE.label
    put = api.put("/api/v1/carrier-mappings", headers=account.bearer,
                  json={"mappings": [{"shipping_service": label, "carrier": "jadlog"}]})
    assert put.status_code == 200, put.json
    [mapping] = put.json["mappings"]
    assert (mapping["shipping_service"], mapping["carrier"]) == (label, "jadlog")
    assert api.get("/api/v1/orders?carrier=jadlog&per_page=100", headers=account.bearer).json["total"] >= waiting

    changed = api.put("/api/v1/carrier-mappings", headers=account.bearer,
                      json={"mappings": [{"shipping_service": label, "carrier": "none"}]}).json
    assert changed["mappings"] == [{**mapping, "carrier": "none"}]  # the same id: the same service
    not_tracked = api.get("/api/v1/orders?carrier=none&per_page=100", headers=account.bearer).json
    assert not_tracked["total"] == waiting
    assert all(o["carrier"] == {"code": "none", "name": "Não rastrear"} and o["tracking_status"] != "tracking"
               for o in not_tracked["items"])

    bad = api.put("/api/v1/carrier-mappings", headers=account.bearer,
                  json={"mappings": [{"shipping_service": "Motoboy", "carrier": "pombo"}]})
    assert bad.status_code == 422 and "none" in bad.json["errors"]["mappings[0].carrier"]
    assert api.delete(f"/api/v1/carrier-mappings/{mapping['id']}", headers=account.bearer).json == {"mappings": []}
    assert api.delete(f"/api/v1/carrier-mappings/{mapping['id']}", headers=account.bearer).status_code == 404
