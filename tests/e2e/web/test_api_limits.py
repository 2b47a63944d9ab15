"""Invalid bodies cost little: at most 50 field errors, and a list too long is refused whole."""

from __future__ import annotations

import json

from kanglu.entrypoints.web.api.bodies import MAX_ERRORS, MAX_ITEMS
from tests.e2e.web.conftest import WebWorld

PATH = "/api/v1/integrations/tiny/status-mappings"


def _put(world: WebWorld, body: object):  # type: ignore[no-untyped-def]
    account = world.merchant()
    world.configure(account)
    raw = json.dumps(body)
    return world.client().put(PATH, data=raw, headers={**account.bearer, "Content-Type": "application/json"}), raw


def test_a_megabyte_of_wrong_items_gets_a_short_answer(world: WebWorld) -> None:
    answer, raw = _put(world, {"mappings": [{"situacao": "x", "action": 1}] * 30_000})
    assert len(raw) > 700_000
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == {"mappings": f"lista com mais de {MAX_ITEMS} itens"}
    assert len(answer.get_data()) < 500


def test_validation_stops_after_the_first_fifty_errors(world: WebWorld) -> None:
    answer, _raw = _put(world, {"mappings": [{"situacao": "x", "action": 1}] * MAX_ITEMS})
    assert answer.status_code == 422
    errors = answer.get_json()["errors"]
    assert len(errors) == MAX_ERRORS
    assert "mappings[0].situacao" in errors and "mappings[999].action" not in errors
    assert len(answer.get_data()) < 5_000


def test_the_document_publishes_the_limits(world: WebWorld) -> None:
    document = world.client().get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert schemas["StatusMappingsInput"]["properties"]["mappings"]["maxItems"] == MAX_ITEMS
