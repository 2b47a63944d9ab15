"""The whole product over real HTTP, for a real browser: the Tiny sandbox on a free port, the web
app served by werkzeug in a thread and the worker, all built from one `Settings` on a SQLite file.

Shared by `tests/e2e/test_browser_flow.py` and `tools/screenshots.py` (the README's screenshots),
so the pictures are of the flow the test proves.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx

from kanglu.adapters.crypto import FernetSecretBox
from kanglu.application.commands import CreateMerchantCommand
from kanglu.domain.secrets import Secret
from kanglu.entrypoints.bootstrap import prepare_database
from kanglu.entrypoints.containers import Container, build_container
from kanglu.entrypoints.settings import CALLBACK_PATH, Settings
from kanglu.entrypoints.web import create_app
from kanglu.entrypoints.worker import RunSummary, build_worker
from kanglu.sandbox.server import SandboxServer
from tests.e2e.web.live import live_server

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def chromium_path() -> str | None:
    """Debian's Chromium (installed by `.ci/run`); never a browser build Playwright downloads.

    Its headless shell first (Debian's `chromium-headless-shell`, the same build: Chromium's
    own headless mode, which Playwright itself uses for headless runs): it rendered the same
    pages with half the CPU of the full browser (18 -> 9 s of Chromium's CPU for
    test_browser_flow.py, 7 Dec), and CPU is what bounds the suite on 2 cores."""
    for name in ("chromium-headless-shell", "chromium"):
        if Path(f"/usr/bin/{name}").exists():
            return f"/usr/bin/{name}"
    return shutil.which("chromium-headless-shell") or shutil.which("chromium")


@attrs.frozen
class MerchantLogin:
    id: int
    name: str
    email: str
    password: str
    api_key: str


@attrs.define
class Stack:
    """Everything running, and the handles a test needs to check what the pages say."""

    base_url: str
    sandbox: SandboxServer
    container: Container
    merchant: MerchantLogin

    @property
    def tiny(self) -> dict[str, Any]:
        """The sandbox account's credentials (client_id, client_secret, invite_link, account_name…)."""
        return self.sandbox.credentials()

    def run_worker_once(self) -> RunSummary:
        """One `kanglu worker --once` pass, on the same container as the web app (the CLI's
        `run_worker` would close the shared HTTP client when it ends)."""
        worker = build_worker(self.container, concurrency=2)
        return worker.run_once()

    def api(self, path: str, **params: Any) -> Any:
        """The JSON API as an integrator calls it, with the merchant's key."""
        answer = httpx.get(
            f"{self.base_url}/api/v1{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.merchant.api_key}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()


def _settings(data_dir: Path, base_url: str, sandbox: SandboxServer, backfill_days: int, **extra: Any) -> Settings:
    return Settings(
        **extra,
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'kanglu.sqlite3'}",
        secret_key=secrets.token_urlsafe(32),
        encryption_keys=(FernetSecretBox.generate_key(),),
        public_url=base_url,
        tiny_api_url=sandbox.api_url,
        tiny_auth_url=sandbox.auth_url,
        backfill_days=backfill_days,
    )


@contextmanager
def running_stack(
    data_dir: Path,
    *,
    orders: int = 60,
    seed: int = 11,
    malformed_rate: float = 0.0,
    backfill_days: int = 90,
    merchant_name: str = "Loja Aurora",
    merchant_email: str = "lojista@aurora.com.br",
    sandbox_settings: dict[str, Any] | None = None,
    web_port: int = 0,
    sandbox_port: int = 0,
    settings: dict[str, Any] | None = None,
) -> Iterator[Stack]:
    """Start the sandbox, the web app and a merchant; stop everything on exit.

    The backfill covers the sandbox's 60 days of orders, so what Kanglu imports is exactly the
    sandbox's orders in the mapped situações, whatever the day the test runs. Ports 0 are free
    ones picked by the system.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        base_url, slot = stack.enter_context(live_server(web_port))
        sandbox = SandboxServer(
            port=sandbox_port,
            orders=orders,
            seed=seed,
            malformed_rate=malformed_rate,
            # A generous plan (not a test of limits): 120 a minute, no burst bucket.
            settings={"redirect_uri": base_url + CALLBACK_PATH, "app_name": "Kanglu", "rate_limit": 120, "burst": 0,
                      **(sandbox_settings or {})},
        ).start()
        stack.callback(sandbox.stop)
        container = build_container(_settings(data_dir, base_url, sandbox, backfill_days, **(settings or {})))
        stack.callback(container.shutdown_resources)
        prepare_database(container)
        password = "senha-" + secrets.token_urlsafe(9)
        created = container.use_cases.create_merchant()(
            CreateMerchantCommand(merchant_name, merchant_email, Secret(password))
        )
        assert created.merchant.id is not None
        slot.app = create_app(container)
        yield Stack(
            base_url=base_url,
            sandbox=sandbox,
            container=container,
            merchant=MerchantLogin(created.merchant.id, merchant_name, merchant_email, password, created.api_key),
        )


# -- what the merchant does in the browser ------------------------------------------------------


def log_in(page: Any, stack: Stack) -> None:
    page.goto(f"{stack.base_url}/login")
    page.fill("#email", stack.merchant.email)
    page.fill("#password", stack.merchant.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.base_url}/integrations")


def save_tiny_credentials(page: Any, stack: Stack) -> None:
    """On Integrações: paste the sandbox's Client ID, Client Secret and Link de Convite, Salvar."""
    tiny = stack.tiny
    page.fill("#client_id", tiny["client_id"])
    page.fill("#client_secret", tiny["client_secret"])
    page.fill("#invite_link", tiny["invite_link"])
    page.click("form[action='/integrations/tiny'] button[type=submit]")
    page.wait_for_selector("text=Credenciais do Tiny salvas")


def go_to_consent(page: Any, stack: Stack, button: str = "Conectar") -> None:
    """Conectar (or Autorizar de novo): the browser lands on the sandbox's consent page."""
    page.click(f"#tiny button:has-text('{button}')")
    page.wait_for_url(re.compile(re.escape(f"{stack.sandbox.auth_url}/auth?")))
    page.wait_for_selector("button[value=accept]")


def decide(page: Any, stack: Stack, accept: bool) -> None:
    """Autorizar or Negar on the consent page; Tiny sends the browser back to Integrações."""
    page.click("button[value=accept]" if accept else "button[value=deny]")
    page.wait_for_url(f"{stack.base_url}/integrations")


def status_badge(page: Any) -> str:
    return str(page.locator("#tiny [data-status]").inner_text())
