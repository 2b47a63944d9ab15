"""Whatever a client sends, the sandbox answers like Tiny: a listing or a 400 ErrorDTO, never a crash."""

from __future__ import annotations

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from kanglu.sandbox.accounts import SandboxState
from kanglu.sandbox.app import SandboxApp
from kanglu.sandbox.clock import SandboxClock
from tests.contract.conftest import SCHEMAS, START

STATE = SandboxState(SandboxClock(start=START))
STATE.defaults.rate_limit = 0
APP = SandboxApp(STATE)
ACCOUNT = STATE.create_account(orders=40, seed=3, malformed_rate=0.2)
TOKEN = APP.oauth.issue(ACCOUNT)["access_token"]
CLIENT = Client(APP)

PARAMS = {
    "/pedidos": ["situacao", "dataAtualizacao", "dataInicial", "dataFinal", "numero", "numeroPedidoEcommerce",
                 "cpfCnpj", "orderBy", "limit", "offset", "outro"],
    "/notas": ["tipo", "situacao", "numero", "idVenda", "numeroPedidoEcommerce", "dataInicial", "dataFinal",
               "cpfCnpj", "idFormaEnvio", "orderBy", "limit", "offset"],
    "/formas-envio": ["nome", "tipo", "situacao", "limit", "offset"],
}
SCHEMA_OF = {"/pedidos": "listar_pedidos", "/notas": "listar_notas", "/formas-envio": "listar_formas_envio"}
values = st.one_of(
    st.text(max_size=20),
    st.integers(-5, 10**12).map(str),
    st.sampled_from(["2026-11-01", "2026-11-01 10:00:00", "2026-02-30", "asc", "desc", "S", "E", "1", "0", "-1"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(sorted(PARAMS)), data=st.data())
def test_any_query_gets_a_listing_or_a_400(path: str, data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(PARAMS[path]), max_size=4, unique=True))
    query = {name: data.draw(values) for name in names}
    answer = CLIENT.get(f"/public-api/v3{path}", query_string=query, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code in (200, 400), (query, answer.status_code)
    schema = SCHEMA_OF[path] if answer.status_code == 200 else "erro"
    jsonschema.validate(answer.json, SCHEMAS[schema])
    assert answer.headers["X-Request-Id"]


@settings(max_examples=60, deadline=None)
@given(raw=st.text(min_size=1, max_size=12).filter(lambda t: "/" not in t and "?" not in t and "#" not in t))
def test_any_id_gets_a_detail_a_400_or_a_404(raw: str) -> None:
    for path in ("pedidos", "notas", "formas-envio"):
        answer = CLIENT.get(f"/public-api/v3/{path}/{raw}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code in (200, 400, 404)


@settings(max_examples=60, deadline=None)
@given(form=st.dictionaries(st.sampled_from(["grant_type", "code", "refresh_token", "client_id", "client_secret",
                                             "redirect_uri", "code_verifier"]), st.text(max_size=30), max_size=6))
def test_any_token_request_gets_an_oauth_answer(form: dict[str, str]) -> None:
    answer = CLIENT.post("/realms/tiny/protocol/openid-connect/token", data=form)
    assert answer.status_code in (400, 401)
    assert set(answer.json) == {"error", "error_description"}
