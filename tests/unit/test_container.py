"""The container wires every use case; with fakes in place of the adapters they run."""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from dependency_injector import providers

from kanglu.application.commands import CreateMerchantCommand
from kanglu.domain.secrets import Secret
from kanglu.adapters.tracking.builtin import BuiltinTrackingService
from kanglu.adapters.tracking.http import HttpTrackingService
from kanglu.entrypoints.bootstrap import prepare_data_folder
from kanglu.entrypoints.containers import build_container, new_api_transport, new_http_client
from kanglu.entrypoints.settings import Settings, SettingsError, variables
from tests.fakes import FakeErpGateway, FakeOAuth, FakeTrackingService, FakeUnitOfWorkFactory


def test_every_use_case_builds_and_runs_with_fakes(tmp_path) -> None:
    container = build_container(Settings.from_env({"KANGLU_DATA_DIR": str(tmp_path)}))
    uow = FakeUnitOfWorkFactory()
    container.adapters.uow.override(providers.Object(uow))
    container.adapters.oauth.override(providers.Object(FakeOAuth()))
    container.adapters.gateway.override(providers.Object(FakeErpGateway()))
    container.adapters.tracking.override(providers.Object(FakeTrackingService()))
    for name, provider in container.use_cases.providers.items():
        assert provider() is not None, name
    created = container.use_cases.create_merchant()(CreateMerchantCommand("Loja", "loja@example.com", Secret("senha-forte")))
    assert created.api_key.startswith("kgl_")
    assert uow.read().merchants.get_by_email("loja@example.com").password_hash != "senha-forte"


def test_generated_secrets_are_kept_private_and_stable(tmp_path) -> None:
    env = {"KANGLU_DATA_DIR": str(tmp_path / "var")}
    first = prepare_data_folder(Settings.from_env(env))
    second = prepare_data_folder(Settings.from_env(env))
    assert first.encryption_keys == second.encryption_keys and first.secret_key == second.secret_key
    assert first.encryption_keys_file == tmp_path / "var" / "encryption_keys"
    assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700
    for name in ("secret_key", "encryption_keys"):
        assert (tmp_path / "var" / name).stat().st_mode & 0o777 == 0o600
    assert first.secret_key is not None and first.secret_key not in repr(first)


def test_parsing_the_settings_touches_no_disk(tmp_path) -> None:
    settings = Settings.from_env({"KANGLU_DATA_DIR": str(tmp_path / "var"), "KANGLU_POLL_INTERVAL": "45"})
    assert not (tmp_path / "var").exists()
    assert settings.secret_key is None and settings.encryption_keys == ()
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'kanglu.sqlite3'}"
    assert settings.poll_interval == 45 and settings.backfill_days == 30


def test_the_defaults_are_the_documented_ones() -> None:
    settings = Settings.from_env({})
    assert settings.data_dir == Path("var").absolute()
    assert (settings.public_url, settings.poll_interval, settings.backfill_days, settings.proxy_hops) == (
        "http://127.0.0.1:8000", 120, 30, 0
    )
    assert settings.tiny_api_url == "https://api.tiny.com.br/public-api/v3"
    assert settings.tiny_auth_url == "https://accounts.tiny.com.br/realms/tiny/protocol/openid-connect"
    assert settings.tracking_url is None and settings.tracking_backend == "builtin"
    assert settings.smtp_url is None and settings.mail_backend == "none"
    assert settings.mail_from == "Kanglu <nao-responda@localhost>"


def test_every_variable_is_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert [name for name in variables().values() if f"`{name}`" not in readme] == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KANGLU_POLL_INTERVAL", "dois", "KANGLU_POLL_INTERVAL must be a whole number, got 'dois'"),
        ("KANGLU_POLL_INTERVAL", "0", "KANGLU_POLL_INTERVAL must be at least 1, got 0"),
        ("KANGLU_JOB_LEASE_SECONDS", "4", "KANGLU_JOB_LEASE_SECONDS must be at least 5, got 4"),
        ("KANGLU_HTTP_TIMEOUT", "601", "KANGLU_HTTP_TIMEOUT must be more than 0 and at most 600 seconds, got 601.0"),
        ("KANGLU_SMTP_URL", "mail.example.com", "KANGLU_SMTP_URL must be smtp://"),
        ("KANGLU_ENCRYPTION_KEYS", " , ", "KANGLU_ENCRYPTION_KEYS holds no key"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({name: value})


def test_a_bad_encryption_key_is_refused_at_start(tmp_path) -> None:
    settings = Settings.from_env({"KANGLU_DATA_DIR": str(tmp_path), "KANGLU_ENCRYPTION_KEYS": "not-a-key"})
    with pytest.raises(SettingsError, match="KANGLU_ENCRYPTION_KEYS holds an invalid Fernet key"):
        prepare_data_folder(settings)


def test_the_tracking_service_follows_the_setting(tmp_path) -> None:
    builtin = build_container(Settings.from_env({"KANGLU_DATA_DIR": str(tmp_path)}))
    http = build_container(
        Settings.from_env({"KANGLU_DATA_DIR": str(tmp_path), "KANGLU_TRACKING_URL": "https://rastreio.example/v1"})
    )
    try:
        assert isinstance(builtin.adapters.tracking(), BuiltinTrackingService)
        assert isinstance(http.adapters.tracking(), HttpTrackingService)
    finally:
        builtin.shutdown_resources()
        http.shutdown_resources()


def test_the_shared_outgoing_client_carries_no_cookie_from_one_call_to_the_next() -> None:
    # One client serves every merchant: a cookie set on one merchant's answer (a load
    # balancer's, say) must not travel with the next call, which may be another merchant's.
    sent: list[str | None] = []

    def tiny(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "affinity=loja-1; Path=/"}, json={"itens": []})

    with new_http_client(5.0, transport=httpx.MockTransport(tiny)) as client:
        for _ in range(2):
            client.get("https://api.tiny.com.br/public-api/v3/pedidos")
        assert sent == [None, None] and not client.cookies


@contextmanager
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that answers 200 to anything and records each request line's target."""
    targets: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            targets.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", targets
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("exempt", [False, True])
def test_tiny_api_calls_go_through_the_environment_proxy_unless_no_proxy_exempts_tiny(
    monkeypatch: pytest.MonkeyPatch, exempt: bool
) -> None:
    # The gateway's transport is used without an httpx.Client, whose trust_env would otherwise
    # have applied HTTP(S)_PROXY and NO_PROXY.
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    with recording_server() as (tiny_url, at_tiny), recording_server() as (proxy_url, at_proxy):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        if exempt:
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with new_api_transport(f"{tiny_url}/public-api/v3") as transport:
            response = transport.handle_request(httpx.Request("GET", f"{tiny_url}/public-api/v3/info"))
            response.read()
            response.close()
        assert response.status_code == 200
        if exempt:
            assert at_tiny == ["/public-api/v3/info"] and at_proxy == []
        else:  # a proxy is sent the whole address
            assert at_proxy == [f"{tiny_url}/public-api/v3/info"] and at_tiny == []
