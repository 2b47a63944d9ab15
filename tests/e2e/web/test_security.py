"""CSRF on every form, security headers on every answer, no inline code, no secret anywhere."""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from dependency_injector import providers
from flask.testing import FlaskClient

from kanglu.application.errors import TransientFailure
from kanglu.application.ports import TokenGrant
from kanglu.adapters.crypto import FernetSecretBox
from kanglu.domain.secrets import Sealed, Secret
from kanglu.entrypoints.web import create_app
from tests.builders import erp_order
from tests.e2e.web.conftest import CLIENT_SECRET, INVITE_LINK, PASSWORD, WebWorld, csrf_of, post_form, test_settings
from tests.e2e.web.sample_data import shop_orders
from tests.fakes import FakeOAuth

TEMPLATES = Path(__file__).resolve().parents[3] / "src" / "kanglu" / "entrypoints" / "web" / "templates"
PAGES = ("/integrations", "/orders", "/orders/failures", "/customers", "/carriers", "/situacoes")


def form_routes(world: WebWorld) -> list[str]:
    return sorted(
        rule.rule
        for rule in world.app.url_map.iter_rules()
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/")
    )


def test_every_form_route_refuses_a_post_without_the_sessions_token(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    client = world.client(account)
    routes = form_routes(world)
    assert {"/login", "/logout", "/integrations/tiny", "/integrations/tiny/connect",
            "/integrations/tiny/disconnect", "/situacoes", "/carriers"} <= set(routes)
    other = world.client(world.merchant("Outra", "outra@loja.com.br"))
    stolen = csrf_of(other.get("/orders").get_data(as_text=True))  # a real token, of another session
    for route in routes:
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "forjado"}, {"csrf_token": stolen}):
            answer = client.post(route, data=data)
            assert answer.status_code == 400, (route, data)
            assert "Recarregue a página" in answer.get_data(as_text=True)
    # Nothing happened: still connected, still logged in.
    assert world.uow.read().connections.for_merchant(account.id).status.value == "connected"
    assert client.get("/orders").status_code == 200
    # The header form of the token works too (for scripts), and the API needs no token.
    token = csrf_of(client.get("/orders").get_data(as_text=True))
    assert client.post("/integrations/tiny/disconnect", headers={"X-CSRF-Token": token}).status_code == 303


EXPECTED_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def assert_secure_headers(answer, path: str) -> None:  # type: ignore[no-untyped-def]
    for name, value in EXPECTED_HEADERS.items():
        assert answer.headers.get(name) == value, (path, name)
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path


def test_every_answer_carries_the_security_headers(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    world.import_orders(account, [erp_order(1)])
    client = world.client(account)
    api = world.app.test_client()
    answers = [(p, client.get(p)) for p in (*PAGES, "/", "/login", "/nao-existe", "/static/kanglu.css",
                                            "/static/kanglu.js", f"/orders/{world.order_ids(account)[0]}")]
    answers += [(p, world.client().get(p)) for p in ("/orders", "/integrations/tiny/callback")]
    answers += [(p, api.get(p, headers=account.bearer)) for p in ("/api/v1/orders", "/api/v1/orders/999999")]
    answers += [("/api/v1/orders (no key)", api.get("/api/v1/orders")), ("POST no token", client.post("/situacoes"))]
    for path, answer in answers:
        assert_secure_headers(answer, path)
    for path, answer in answers:
        if not path.startswith("/static/"):
            assert answer.headers.get("Cache-Control") == "no-store", path


def test_https_deployments_add_strict_transport_security(tmp_path: Path) -> None:
    world = WebWorld(settings=test_settings(tmp_path, public_url="https://app.kanglu.com.br"))
    assert world.client().get("/login").headers["Strict-Transport-Security"].startswith("max-age=")


INLINE_CODE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    offenders = [
        f"{path.name}: {match.group(0)}"
        for path in TEMPLATES.glob("*.html")
        for match in INLINE_CODE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_rendered_pages_have_no_inline_script_or_style(world: WebWorld) -> None:
    account = world.merchant()
    world.connect(account)
    world.import_orders(account, shop_orders(8))
    client = world.client(account)
    paths = [*PAGES, f"/orders/{world.order_ids(account)[0]}", f"/customers/{world.customer_ids(account)[0]}"]
    for path in [*paths, "/nao-existe"]:
        html = client.get(path).get_data(as_text=True)
        assert not INLINE_CODE.search(html), path
    assert not INLINE_CODE.search(world.client().get("/login").get_data(as_text=True))


class RecordingOAuth(FakeOAuth):
    """Issues long random tokens and remembers them, so a test can look for them anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[str] = []

    def _grant(self) -> TokenGrant:
        access, refresh = f"acc-{secrets.token_hex(16)}", f"ref-{secrets.token_hex(16)}"
        self.issued += [access, refresh]
        self.valid_refresh.add(refresh)
        return TokenGrant(Secret(access), Secret(refresh), self.lifetime, self.refresh_lifetime)


class RecordingBox:
    """The real Fernet box, remembering every ciphertext it made (tokens sealed, then dropped
    on disconnect, must not have leaked meanwhile either)."""

    def __init__(self, box: FernetSecretBox) -> None:
        self._box = box
        self.sealed: list[str] = []

    def seal(self, plaintext: Secret) -> Sealed:
        sealed = self._box.seal(plaintext)
        self.sealed.append(sealed.ciphertext)
        return sealed

    def open(self, sealed: Sealed) -> Secret:
        return self._box.open(sealed)


@pytest.fixture
def recording_world(tmp_path: Path) -> WebWorld:
    world = WebWorld(settings=test_settings(tmp_path), oauth=RecordingOAuth())
    box = RecordingBox(FernetSecretBox(world.settings.encryption_keys))
    world.container.core.secret_box.override(providers.Object(box))
    return world


def everything_a_merchant_can_do(world: WebWorld, caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    """Every page and call, with success and failure paths; returns the merchant's secrets
    and every text the service put out (bodies, headers, decoded session cookies)."""
    account = world.merchant()
    client = world.client(account)
    outputs: list[str] = []

    def keep(answer) -> None:  # type: ignore[no-untyped-def]
        outputs.append(answer.get_data(as_text=True))
        outputs.extend(f"{k}: {v}" for k, v in answer.headers.items())

    # A refused Salvar hands the secret just typed back into its masked field (so that a typo
    # elsewhere costs no trip to Tiny), and only there; every other answer is checked below.
    refused = post_form(client, "/integrations", "/integrations/tiny",
                        {"client_id": "tiny-api-x", "client_secret": CLIENT_SECRET, "invite_link": "ftp://errado"})
    assert refused.status_code == 422 and refused.headers["Cache-Control"] == "no-store"
    refused_page = refused.get_data(as_text=True)
    assert refused_page.count(CLIENT_SECRET) == 1
    assert f'type="password" id="client_secret" name="client_secret" value="{CLIENT_SECRET}"' in refused_page
    outputs.append(refused_page.replace(CLIENT_SECRET, ""))
    keep(post_form(client, "/integrations", "/integrations/tiny",
                   {"client_id": "tiny-api-x", "client_secret": CLIENT_SECRET, "invite_link": INVITE_LINK}))
    api = world.app.test_client()
    keep(api.put("/api/v1/integrations/tiny", headers=account.bearer,
                 json={"client_id": "tiny-api-x", "client_secret": CLIENT_SECRET, "invite_link": INVITE_LINK}))
    keep(api.put("/api/v1/integrations/tiny", headers=account.bearer,
                 json={"client_id": "tiny-api-x", "client_secret": CLIENT_SECRET, "invite_link": "http://x"}))
    for fault in (None, TransientFailure("Tiny indisponível (503)")):
        start = post_form(client, "/integrations", "/integrations/tiny/connect")
        keep(start)
        state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
        if fault:
            world.oauth.fail_next.append(fault)
        keep(client.get("/integrations/tiny/callback?" + urlencode({"code": world.oauth.issue_code(), "state": state})))
    keep(api.post("/api/v1/integrations/tiny/authorize", headers=account.bearer))
    start = post_form(client, "/integrations", "/integrations/tiny/connect")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    keep(client.get("/integrations/tiny/callback?" + urlencode({"code": world.oauth.issue_code(), "state": state})))
    world.import_orders(account, shop_orders(6))
    for path in (*PAGES, f"/orders/{world.order_ids(account)[0]}", f"/customers/{world.customer_ids(account)[0]}"):
        keep(client.get(path))
    for path in ("/integrations/tiny", "/integrations/tiny/status-mappings", "/orders", "/customers",
                 f"/orders/{world.order_ids(account)[0]}", "/openapi.json"):
        keep(api.get("/api/v1" + path, headers=account.bearer))
    keep(api.get("/api/v1/orders", headers={"Authorization": "Bearer kgl_errada"}))
    keep(post_form(client, "/integrations", "/integrations/tiny/disconnect"))
    keep(api.delete("/api/v1/integrations/tiny", headers=account.bearer))
    keep(post_form(client, "/orders", "/logout"))
    serializer = world.app.session_interface.get_signing_serializer(world.app)  # type: ignore[attr-defined]
    for cookie in client._cookies.values():  # noqa: SLF001 - the browser's cookie jar, to decode
        outputs.append(cookie.value)
        outputs.append(repr(serializer.loads(cookie.value)) if cookie.key == "kanglu_session" else "")

    logged = []
    for record in caplog.records:
        logged.append(record.getMessage())
        logged.extend(str(v) for v in vars(record).values())
    sealed = world.container.core.secret_box().sealed
    assert len(sealed) >= 9  # client secret x3, tokens and PKCE verifiers of each authorisation
    merchant = world.uow.read().merchants.get(account.id)
    secrets_ = [CLIENT_SECRET, PASSWORD, account.api_key, merchant.password_hash, *world.oauth.issued, *sealed]
    return secrets_, outputs + logged


def test_no_secret_or_token_in_any_page_answer_cookie_or_log_line(
    recording_world: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_, outputs = everything_a_merchant_can_do(recording_world, caplog)
    assert len(recording_world.oauth.issued) >= 4  # the test did connect, twice
    everything = "\n".join(outputs)
    assert "Tiny conectado" in everything  # the walk really went through the pages
    leaked = [s[:12] + "…" for s in secrets_ if s and s in everything]
    assert leaked == []


def test_an_unexpected_error_is_a_portuguese_500_page_or_json(tmp_path: Path) -> None:
    world = WebWorld(settings=test_settings(tmp_path))
    account = world.merchant()

    class Broken:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            raise RuntimeError("database is down: password=hunter2")

    world.container.adapters.order_queries.override(providers.Object(Broken()))
    app = create_app(world.container, login_attempts=world.login_attempts, sessions=world.sessions)  # not in testing mode
    client: FlaskClient = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_of(page.get_data(as_text=True)), "email": account.email,
                                "password": PASSWORD})
    answer = client.get("/orders")
    assert answer.status_code == 500
    body = answer.get_data(as_text=True)
    assert "Algo deu errado do nosso lado" in body and "hunter2" not in body and "Traceback" not in body
    api = client.get("/api/v1/orders", headers=account.bearer)
    assert api.status_code == 500
    assert api.json == {"error": "internal_error", "message": "Erro interno. Tente de novo em alguns instantes."}
