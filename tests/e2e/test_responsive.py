"""Every page on a phone (390×844) and on a laptop (1366×900), in a real browser over the real
stack: no page is wider than the screen, every form control is on screen, and the menu reaches
every page. The test walks the menu's own links, so a page added to the menu is covered with no
change here.

Skips, saying why, when Chromium or Playwright is missing (`apt-get install chromium`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kanglu.adapters.sql import orm
from tests.e2e.browser_flow import (
    CHROMIUM_ARGS,
    Stack,
    chromium_path,
    decide,
    go_to_consent,
    log_in,
    running_stack,
    save_tiny_credentials,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots" / "responsive"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if chromium_path() is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}

# What sticks out horizontally: the document's width against the window's, and every visible
# control of the page (outside a listing that scrolls inside its card) against the window.
WIDTHS = """() => {
  const inside = (el) => el.closest('.table-wrap') && !el.closest('table.table-reflow');
  const out = [];
  for (const el of document.querySelectorAll('main input, main select, main button, main summary, main a.btn')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || inside(el)) continue;
    if (box.left < -0.5 || box.right > window.innerWidth + 0.5) out.push(el.outerHTML.slice(0, 120));
  }
  return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, out: out};
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One connected, polled merchant for both sizes: the pages have orders, customers, import
    failures and shipping services to map."""
    mapped_before = orm.mappers_started()
    with running_stack(tmp_path_factory.mktemp("responsive") / "var", orders=60, seed=11, malformed_rate=0.05) as running:
        yield running
    if not mapped_before:
        orm.stop_mappers()  # the fake-backed tests that follow need the plain domain classes


@pytest.fixture(scope="module")
def connected(stack: Stack, browser: Any) -> Stack:
    context = browser.new_context(viewport=LAPTOP, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, stack)
    save_tiny_credentials(page, stack)
    go_to_consent(page, stack)
    decide(page, stack, accept=True)
    context.close()
    summary = stack.run_worker_once()
    assert summary.imported > 0 and summary.errors == 0
    return stack


def fits(page: Any, label: str) -> None:
    widths = page.evaluate(WIDTHS)
    assert widths["scroll"] <= widths["inner"], (label, page.url, widths)
    assert widths["out"] == [], (label, page.url, widths["out"])


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def open_menu(page: Any, phone: bool) -> Any:
    """The menu's links, opened first on a phone (where it hides behind its button)."""
    toggle = page.locator(".menu-toggle")
    if phone:
        assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
        assert not page.locator("#menu").is_visible()
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"
    else:
        assert not toggle.is_visible()
    links = page.locator("#menu a[href]")
    assert links.count() >= 5
    return links


@pytest.mark.parametrize(("size", "viewport"), [("390", PHONE), ("1366", LAPTOP)])
def test_every_page_fits_the_screen_and_the_menu_reaches_each(connected: Stack, browser: Any,
                                                               size: str, viewport: dict[str, int]) -> None:
    stack, base, phone = connected, connected.base_url, viewport is PHONE
    context = browser.new_context(viewport=viewport, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))

    page.goto(f"{base}/login")
    fits(page, "login")
    log_in(page, stack)

    # Every item of the menu, clicked from the menu itself, lands on its page, which fits.
    hrefs = open_menu(page, phone).evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert {"/integrations", "/orders", "/customers", "/carriers", "/situacoes"} <= set(hrefs)
    if phone:
        shot(page, f"{size}-menu-aberto")
        page.keyboard.press("Escape")
        assert not page.locator("#menu").is_visible()
        assert page.locator(".menu-toggle").get_attribute("aria-expanded") == "false"
    for index, href in enumerate(hrefs):
        link = open_menu(page, phone).nth(index)
        assert link.is_visible() and link.get_attribute("href") == href
        link.click()
        page.wait_for_url(f"{base}{href}")
        assert page.locator(f"#menu a[href='{href}'][aria-current=page]").count() == 1
        if phone:
            assert not page.locator("#menu").is_visible()  # a new page starts with the menu closed
        fits(page, href)
        shot(page, f"{size}-menu-{href.strip('/').replace('/', '-') or 'inicio'}")

    # The pages the menu does not list directly.
    order = stack.api("/orders", per_page=1)["items"][0]
    customer = stack.api("/customers", per_page=1)["items"][0]
    for path in (f"/orders/{order['id']}", f"/customers/{customer['id']}", "/orders/failures",
                 "/orders?page=999", "/orders?q=nada-assim", "/nao-existe"):
        page.goto(base + path)
        fits(page, path)
    shot(page, f"{size}-404")

    # The pieces that open: the credentials, the Desconectar confirmation, the menu itself.
    page.goto(f"{base}/integrations")
    page.click("#credentials > summary")
    assert page.locator("#client_id").is_visible()
    fits(page, "credenciais abertas")
    page.click("summary:has-text('Desconectar')")
    assert page.locator("button:has-text('Sim, desconectar')").is_visible()
    fits(page, "confirmação de Desconectar")
    box = page.locator(".confirm-box").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    page.keyboard.press("Escape")

    page.goto(f"{base}/carriers")
    for control in page.locator("main form.inline-form select, main form.inline-form button").all():
        box = control.bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"]

    # Sair is in the menu too.
    if phone:
        page.click(".menu-toggle")
    page.click("#menu button:has-text('Sair')")
    page.wait_for_url(f"{base}/login")
    fits(page, "saiu")
    context.close()
    # No CSP violation, no script error; Chromium reports the 404 page's own status, nothing else.
    assert [p for p in problems if not p.startswith(f"{base}/nao-existe: ")] == []


def test_without_scripts_the_menu_is_still_there_on_a_phone(connected: Stack, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, locale="pt-BR", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{connected.base_url}/login")
    page.fill("#email", connected.merchant.email)
    page.fill("#password", connected.merchant.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{connected.base_url}/integrations")
    assert not page.locator(".menu-toggle").is_visible()
    links = page.locator("#menu a[href]")
    assert links.count() >= 5 and all(link.is_visible() for link in links.all())
    fits(page, "sem script")
    context.close()


def test_situacoes_restore_and_a_revoked_connection_on_a_phone(connected: Stack, browser: Any) -> None:
    """Runs last: it changes the mapping and loses the connection. On a phone, Restaurar padrão
    (its confirmation a sheet on screen, its button posting the form outside the table) brings
    the defaults back; after Tiny revokes the access, the card says why, when and what to do."""
    import httpx

    from kanglu.application.commands import RefreshTokenCommand

    stack, base = connected, connected.base_url
    context = browser.new_context(viewport=PHONE, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, stack)

    page.goto(f"{base}/situacoes")
    for select in page.locator("main select").all():
        select.select_option("ignore")
    page.click("main button:has-text('Salvar')")
    page.wait_for_selector("[data-alert=imports-nothing]")
    fits(page, "situações sem importar")
    page.click("summary:has-text('Restaurar padrão')")
    box = page.locator(".confirm-box").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["y"] + box["height"] <= PHONE["height"]  # the sheet is on screen, not below the fold
    page.click("button:has-text('Sim, restaurar')")
    page.wait_for_selector("text=Mapeamento padrão restaurado.")
    assert page.locator("[data-alert=imports-nothing]").count() == 0
    assert page.locator("#situacao_1").input_value() == "import"
    assert page.locator("#situacao_6").input_value() == "mark_delivered"
    fits(page, "situações restauradas")

    httpx.post(f"{stack.sandbox.base_url}/_sandbox/accounts/default/revoke", timeout=10).raise_for_status()
    with stack.container.adapters.uow()() as uow:
        connection = uow.connections.for_merchant(stack.merchant.id)
        assert connection is not None and connection.id is not None
        connection_id = connection.id
    stack.container.use_cases.refresh_token()(RefreshTokenCommand(connection_id, force=True))  # Tiny says invalid_grant
    page.goto(f"{base}/integrations")
    alert = page.inner_text("[data-alert=revoked]")
    assert "A Kanglu perdeu o acesso ao Tiny em" in alert
    assert "Motivo: O Tiny não aceita mais a autorização dada à Kanglu" in alert
    assert "O que fazer: clique em Conectar" in alert
    assert "token" not in alert.lower() and "(" not in alert
    assert page.locator("#tiny button:has-text('Conectar')").is_visible()
    fits(page, "desconectado")
    shot(page, "390-integracoes-desconectado")
    context.close()
