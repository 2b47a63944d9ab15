"""The OpenAPI document tells the truth: it names every route, and schemathesis, generating
requests from it, finds no 5xx and no answer that contradicts it."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from kanglu.entrypoints.web.api.openapi import document
from tests.e2e.web.conftest import Account, WebWorld, test_settings
from tests.e2e.web.sample_data import shop_orders

METHODS = {"GET", "PUT", "POST", "DELETE", "PATCH"}


def _populated() -> tuple[WebWorld, Account]:
    world = WebWorld(settings=test_settings(Path(tempfile.mkdtemp(prefix="kanglu-openapi-"))))
    account = world.merchant()
    world.connect(account)
    world.import_orders(account, shop_orders(30))
    other = world.merchant("Outra Loja", "outra@loja.com.br")
    world.connect(other)
    return world, account


# Built when the module is collected: schemathesis parametrizes from a schema it loads then
# (its fixture-based loader does not work with this pytest). Fakes only: cheap and private.
WORLD, ACCOUNT = _populated()


@pytest.fixture(scope="module")
def populated() -> tuple[WebWorld, Account]:
    return WORLD, ACCOUNT


def test_the_document_describes_exactly_the_routes_the_app_serves(populated) -> None:  # type: ignore[no-untyped-def]
    world, _ = populated
    served = set()
    for rule in world.app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi_document":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            served |= {(path, m) for m in (rule.methods or set()) & METHODS}
    doc = world.app.test_client().get("/api/v1/openapi.json").json
    described = {(path, m.upper()) for path, item in doc["paths"].items() for m in item}
    assert described == served


def test_every_operation_needs_the_key_and_says_what_401_looks_like() -> None:
    doc = document()
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A chave da API do lojista."
    }
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert "401" in operation["responses"], (path, method)
            assert operation["operationId"]


def test_the_order_schema_names_every_field_of_the_contract() -> None:
    order = document()["components"]["schemas"]["Order"]
    assert set(order["required"]) == set(order["properties"]) == {
        "id", "erp_order_id", "number", "ecommerce_number", "situacao", "total", "created_at", "customer", "invoice",
        "carrier", "tracking_code", "tracking_url", "tracking_status", "import_error", "warnings", "shipping_address",
    }
    assert order["properties"]["tracking_status"]["enum"] == ["waiting_data", "tracking", "delivered", "cancelled"]


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WORLD.app)
# Said to schemathesis, not added behind its back: then its checks know the key is there
# (and still try requests without it, expecting 401).
schema.config.update(headers=ACCOUNT.bearer)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_honours_its_document(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate()
