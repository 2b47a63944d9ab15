"""A real browser (Debian's Chromium driven by Playwright) through the merchant's pages, over a
live server; saves a screenshot of each page in test-artifacts/screenshots/.

Skips, saying why, when Chromium or Playwright is missing (`apt-get install chromium`; never
`playwright install`, which downloads a browser build).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser_flow import CHROMIUM_ARGS, chromium_path
from tests.e2e.web.conftest import PASSWORD, Account, WebWorld, test_settings
from tests.e2e.web.live import live_server
from tests.e2e.web.sample_data import shop_orders

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if chromium_path() is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, WebWorld, Account]]:
    with live_server() as (base_url, slot):
        world = WebWorld(settings=test_settings(tmp_path, public_url=base_url))
        slot.app = world.app
        account = world.merchant()
        world.connect(account)
        world.import_orders(account, shop_orders())
        yield base_url, world, account


def log_in(page, email: str) -> None:  # type: ignore[no-untyped-def]
    """On the login page: fill the form and submit it."""
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_merchant_logs_in_and_browses_integrations_and_orders(site, browser) -> None:  # type: ignore[no-untyped-def]
    base_url, world, account = site
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="pt-BR")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{base_url}/orders")
    assert page.url.startswith(f"{base_url}/login")
    shot(page, "01-login")
    log_in(page, account.email)
    page.wait_for_url(f"{base_url}/orders")

    page.goto(f"{base_url}/integrations")
    assert page.locator("#tiny [data-status]").inner_text() == "conectado"
    assert "Loja Exemplo Ltda" in page.locator("#tiny").inner_text()
    page.click("#credentials > summary:has-text('Editar')")  # folded once connected
    page.click("button[data-copy=redirect_uri]")
    assert page.evaluate("navigator.clipboard.readText()") == f"{base_url}/integrations/tiny/callback"
    shot(page, "02-integracoes")

    page.goto(f"{base_url}/orders")
    rows = page.locator("tbody tr")
    assert rows.count() == 25
    assert page.locator(".pagination .current").inner_text() == "1"
    shot(page, "03-pedidos")

    page.select_option("#carrier", "unknown")  # applied at once by the script
    page.wait_for_url("**/orders?*carrier=unknown*")
    assert page.locator("tbody tr").count() == 4
    shot(page, "04-pedidos-transportadora-nao-identificada")

    page.locator("tbody tr a").first.click()
    page.wait_for_url("**/orders/*")
    assert "não identificada" in page.inner_text("body")
    shot(page, "05-pedido")

    page.goto(f"{base_url}/orders?q=12004")
    page.locator("tbody tr a").first.click()
    assert page.locator(".key-groups").inner_text().count(" ") == 10  # 44 characters in 11 groups
    shot(page, "06-pedido-com-nota")

    for path, name in (
        ("/customers", "07-clientes"),
        ("/carriers", "08-transportadoras"),
        ("/situacoes", "09-situacoes"),
        ("/orders/failures", "10-falhas-de-importacao"),
    ):
        page.goto(base_url + path)
        shot(page, name)

    page.goto(f"{base_url}/integrations")
    page.click("summary:has-text('Desconectar')")
    page.click("button:has-text('Sim, desconectar')")
    page.wait_for_url(f"{base_url}/integrations")
    assert page.locator("#tiny [data-status]").inner_text() == "desconectado"
    shot(page, "11-integracoes-desconectado")

    assert problems == []  # no CSP violation, no script error
    context.close()


def test_a_new_merchant_fills_the_tiny_credentials(site, browser) -> None:  # type: ignore[no-untyped-def]
    base_url, world, _ = site
    newcomer = world.merchant("Ateliê Bossa", "contato@ateliebossa.com.br")
    page = browser.new_page(viewport={"width": 1360, "height": 900}, locale="pt-BR")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{base_url}/login")
    log_in(page, newcomer.email)
    page.wait_for_url(f"{base_url}/integrations")
    assert page.locator("#tiny [data-status]").inner_text() == "não configurado"
    shot(page, "12-integracoes-nao-configurado")

    page.fill("#client_id", "tiny-api-4f1c2e-1730000000")
    page.fill("#client_secret", "segredo-do-app")
    page.fill("#invite_link", "https://example.com/convite")
    page.click("form[action='/integrations/tiny'] button[type=submit]")
    assert "deve ser um endereço do Tiny" in page.inner_text("#tiny")
    assert page.input_value("#client_secret") == "segredo-do-app"  # kept, masked, for the next try
    shot(page, "13-integracoes-erro-no-link")

    page.fill("#invite_link", "https://accounts.tiny.com.br/realms/tiny/convite/4f1c2e")
    page.click("form[action='/integrations/tiny'] button[type=submit]")
    page.wait_for_selector("text=Credenciais do Tiny salvas")
    assert page.locator("#tiny [data-status]").inner_text() == "aguardando autorização"
    assert page.locator("button:has-text('Conectar')").is_visible()
    shot(page, "14-integracoes-aguardando-autorizacao")
    # Chromium reports the refused form's 422 answer on the console; nothing else may appear.
    assert [p for p in problems if "status of 422" not in p] == []
