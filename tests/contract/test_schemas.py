"""Every kind of sandbox answer validates against the schemas derived from Tiny's OpenAPI document."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanglu.sandbox import payloads
from kanglu.sandbox.dataset import Dataset
from tests.contract.conftest import SCHEMAS, START, all_pages, api_client, new_account

VALIDATORS = {name: jsonschema.Draft202012Validator(schema) for name, schema in SCHEMAS.items()}


def assert_valid(name: str, body: Any) -> None:
    errors = sorted(VALIDATORS[name].iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_the_schemas_are_valid_json_schemas() -> None:
    for schema in SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_the_schemas_reject_what_the_spec_does_not_allow() -> None:
    """The contract has teeth: an invented field, a wrong type or a missing envelope fails."""
    good = {"itens": [], "paginacao": {"limit": 100, "offset": 0, "total": 0}}
    assert_valid("listar_pedidos", good)
    bad = [
        {"itens": []},
        {"itens": [{"id": "12"}], "paginacao": good["paginacao"]},
        {"itens": [{"id": 1, "dataAtualizacao": "2026-01-01"}], "paginacao": good["paginacao"]},
        {"itens": [{"id": 1, "valor": 598}], "paginacao": good["paginacao"]},
        {"itens": [{"id": 1, "situacao": "x"}], "paginacao": good["paginacao"]},
    ]
    for body in bad:
        assert list(VALIDATORS["listar_pedidos"].iter_errors(body)), body


def test_every_api_answer_over_http_matches_the_official_schemas(sandbox) -> None:
    account = new_account(sandbox, orders=400, malformed_rate=0.05)
    with api_client(sandbox, account) as api:
        pedidos = all_pages(api, "/pedidos")
        assert len(pedidos) == 400
        for offset in range(0, 400, 100):
            assert_valid("listar_pedidos", api.get("/pedidos", params={"offset": offset}).json())
        for pedido in pedidos[::3]:
            answer = api.get(f"/pedidos/{pedido['id']}")
            assert answer.status_code == 200
            assert_valid("obter_pedido", answer.json())

        notas = all_pages(api, "/notas")
        assert notas
        assert_valid("listar_notas", api.get("/notas").json())
        for nota in notas[::2]:
            assert_valid("obter_nota", api.get(f"/notas/{nota['id']}").json())

        formas = api.get("/formas-envio").json()
        assert_valid("listar_formas_envio", formas)
        for forma in formas["itens"]:
            assert_valid("obter_forma_envio", api.get(f"/formas-envio/{forma['id']}").json())

        assert_valid("info", api.get("/info").json())

        for bad in ({"situacao": 11}, {"limit": "many"}, {"dataAtualizacao": "ontem"}, {"orderBy": "up"}):
            answer = api.get("/pedidos", params=bad)
            assert answer.status_code == 400
            assert_valid("erro", answer.json())
        for missing in ("/pedidos/1", "/notas/1", "/formas-envio/1"):
            answer = api.get(missing)
            assert answer.status_code == 404
            assert_valid("erro", answer.json())
        unauthenticated = api.get("/info", headers={"Authorization": "Bearer nope"})
        assert unauthenticated.status_code == 401
        assert_valid("erro", unauthenticated.json())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**40), malformed=st.sampled_from([0.0, 0.3]))
def test_payloads_of_any_seed_match_the_schemas(seed: int, malformed: float) -> None:
    dataset = Dataset(seed, 40, START, malformed)
    page = {"itens": [payloads.pedido_listing(dataset, o) for o in dataset.orders],
            "paginacao": {"limit": 100, "offset": 0, "total": 40}}
    assert_valid("listar_pedidos", page)
    for order in dataset.orders:
        assert_valid("obter_pedido", payloads.pedido_detail(dataset, order))
    notas = {"itens": [payloads.nota_listing(dataset, i) for i in dataset.invoices],
             "paginacao": {"limit": 100, "offset": 0, "total": len(dataset.invoices)}}
    assert_valid("listar_notas", notas)
    for invoice in dataset.invoices:
        assert_valid("obter_nota", payloads.nota_detail(dataset, invoice))
    assert_valid("info", payloads.info(dataset.company))


@pytest.mark.parametrize("alphanumeric", [True, False])
def test_info_shows_the_company_document(alphanumeric: bool) -> None:
    company = Dataset(5, 0, START, alphanumeric_cnpj=alphanumeric).company
    body = payloads.info(company)
    assert_valid("info", body)
    assert body["cpfCnpj"].replace(".", "").replace("/", "").replace("-", "") == company.cnpj
    assert company.cnpj[:12].isdigit() is not alphanumeric
