"""Issue 18 in a real browser (Debian's Chromium), with real pieces only: the sandbox over HTTP,
the web app on a live server, the worker. The Integrações card follows the first import and a
"Sincronizar agora" without a reload; the Histórico after connect, revoke and reconnect; a
carrier mapping saved, listed, changed to "Não rastrear" and removed.

Skips, saying why, when Chromium or Playwright is missing (`apt-get install -y chromium`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kanglu.adapters.sql import orm
from kanglu.application.commands import RefreshTokenCommand
from tests.e2e.browser_flow import (
    CHROMIUM_ARGS,
    Stack,
    chromium_path,
    decide,
    go_to_consent,
    log_in,
    running_stack,
    save_tiny_credentials,
    status_badge,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots" / "sync"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if chromium_path() is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def plain_domain_classes_afterwards() -> Iterator[None]:
    mapped_before = orm.mappers_started()
    yield
    if not mapped_before:
        orm.stop_mappers()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path / "var", orders=60, seed=11) as running:
        yield running


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
    yield page
    context.close()
    assert problems == []  # no CSP violation, no script error


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def worker_in_background(stack: Stack) -> threading.Thread:
    """A worker pass while the page stays open: the card must follow it by itself."""
    thread = threading.Thread(target=stack.run_worker_once, daemon=True)
    thread.start()
    return thread


def connect_in_browser(page: Any, stack: Stack) -> None:
    go_to_consent(page, stack)
    decide(page, stack, accept=True)
    assert status_badge(page) == "conectado"


def test_the_card_follows_the_first_import_and_sync_now_without_a_reload(stack: Stack, page: Any) -> None:
    base = stack.base_url
    log_in(page, stack)
    save_tiny_credentials(page, stack)
    connect_in_browser(page, stack)
    progress = page.locator("[data-sync-first-import]")
    assert progress.is_visible()
    assert "0 pedidos importados até agora" in progress.inner_text()
    assert page.inner_text("[data-sync=next_sync_text]") == "agora"
    shot(page, "01-primeira-importacao")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    worker_in_background(stack).join(120)
    total = stack.api("/orders", per_page=1)["total"]
    assert total > 0
    expected = f"{total:,}".replace(",", ".")
    page.wait_for_function(
        "n => document.querySelector('#tiny .facts [data-sync=orders_text]').textContent === n", arg=expected)
    page.wait_for_selector("[data-sync-first-import]", state="hidden")
    assert page.evaluate("window.__sameDocument") is True
    assert "ainda não houve" not in page.inner_text("[data-sync=last_sync_text]")
    assert "em " in page.inner_text("[data-sync=next_sync_text]")  # the next regular poll, ahead
    shot(page, "02-importado-sem-recarregar")

    page.click("#tiny button:has-text('Sincronizar agora')")
    page.wait_for_selector("text=Sincronização pedida: começa em instantes.")
    assert page.inner_text("[data-sync=next_sync_text]") == "agora"
    page.evaluate("window.__sameDocument = true")
    worker_in_background(stack).join(120)
    page.wait_for_function("() => document.querySelector('[data-sync=next_sync_text]').textContent.includes('em ')")
    assert page.evaluate("window.__sameDocument") is True
    page.click("#tiny button:has-text('Sincronizar agora')")  # a second one within the minute
    page.wait_for_selector("text=Uma sincronização foi pedida há menos de um minuto")
    shot(page, "03-sincronizar-agora")
    assert page.url.startswith(f"{base}/integrations")


def test_the_history_after_connect_revoke_and_reconnect(stack: Stack, page: Any) -> None:
    base = stack.base_url
    log_in(page, stack)
    save_tiny_credentials(page, stack)
    connect_in_browser(page, stack)
    stack.run_worker_once()

    # Tiny revokes the access; the next renewal hears invalid_grant.
    httpx.post(f"{stack.sandbox.base_url}/_sandbox/accounts/default/revoke", timeout=10).raise_for_status()
    with stack.container.adapters.uow()() as uow:
        connection_id = uow.connections.for_merchant(stack.merchant.id).id
    stack.container.use_cases.refresh_token()(RefreshTokenCommand(connection_id, force=True))
    page.goto(f"{base}/integrations")
    assert status_badge(page) == "desconectado"
    assert "O que fazer: clique em Conectar" in page.inner_text("#tiny .alert-error")
    connect_in_browser(page, stack)

    page.click("nav >> text=Histórico")
    page.wait_for_url(f"{base}/integrations/history")
    kinds = page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds[0] == "connected" and kinds.count("connected") == 2
    assert "disconnected" in kinds and "poll" in kinds
    assert kinds.index("disconnected") < kinds.index("poll")  # newest first
    text = page.inner_text("tbody")
    assert "não aceita mais a autorização dada à Kanglu" in text
    first_poll = page.locator("tbody tr[data-kind=poll]").last.locator("td").nth(3).inner_text()
    assert int(first_poll) == stack.api("/orders", per_page=1)["total"]
    shot(page, "04-historico")


def test_a_carrier_mapping_saved_listed_changed_to_nao_rastrear_and_removed(stack: Stack, page: Any) -> None:
    base = stack.base_url
    log_in(page, stack)
    save_tiny_credentials(page, stack)
    connect_in_browser(page, stack)
    stack.run_worker_once()

    page.goto(f"{base}/carriers")
    assert "Você ainda não indicou nenhuma transportadora" in page.inner_text("main")
    row = page.locator("table:not(.carrier-mappings) tbody tr").first
    label = row.locator("td strong").inner_text()
    waiting = int(row.locator("td.num").inner_text())
    jadlog_before = stack.api("/orders", carrier="jadlog", per_page=1)["total"]
    row.locator("select").select_option("jadlog")
    row.locator("button:has-text('Salvar')").click()
    page.wait_for_selector(f"text={label} agora é Jadlog")
    saved = page.locator("table.carrier-mappings tbody tr")
    assert saved.count() == 1 and saved.locator("td strong").inner_text() == label
    assert saved.locator("select").input_value() == "jadlog"
    assert stack.api("/orders", carrier="jadlog", per_page=1)["total"] == jadlog_before + waiting
    shot(page, "05-transportadora-salva")

    saved.locator("select").select_option("none")
    saved.locator("button:has-text('Alterar')").click()
    page.wait_for_selector(f"text={label} não será rastreada")
    assert page.locator("table.carrier-mappings tbody tr select").input_value() == "none"
    assert stack.api("/orders", carrier="none", per_page=1)["total"] == waiting
    assert stack.api("/orders", carrier="jadlog", per_page=1)["total"] == jadlog_before  # moved off Jadlog
    page.goto(f"{base}/orders?carrier=none")
    badges = page.locator("tbody tr .badge", has_text="Não rastreado")
    assert badges.count() == min(waiting, 25)
    shot(page, "06-nao-rastrear")
    page.goto(f"{base}/carriers")

    page.locator("table.carrier-mappings button:has-text('Remover')").click()
    page.wait_for_selector("text=removida")
    assert page.locator("table.carrier-mappings").count() == 0
    assert stack.api("/carrier-mappings") == {"mappings": []}
    shot(page, "07-indicacao-removida")
