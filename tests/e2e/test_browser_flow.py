"""The whole flow in a real browser, with real pieces only: the Tiny sandbox over HTTP, the web app
on a live server over a SQLite file, the worker. A merchant logs in, pastes the sandbox's
credentials, connects, authorises on the sandbox's consent page, one worker pass imports the
orders, and the merchant reads them. Also the refusal: *Negar* changes nothing.

Saves a screenshot of each page in test-artifacts/screenshots/ (gitignored). Skips, saying why,
when Chromium or Playwright is missing (`apt-get install chromium`; never `playwright install`).
"""

from __future__ import annotations

import importlib.util
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kanglu.adapters.sql import orm
from kanglu.domain.situacoes import DEFAULT_ACTIONS
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
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots" / "flow"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if chromium_path() is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

_TOTAL = re.compile(r"de ([\d.]+) pedidos?")


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
    """The SQL adapters map the domain classes for the whole process; the fake-backed tests that
    follow (some build their objects at collection, before any mapping) need the plain classes
    back."""
    mapped_before = orm.mappers_started()
    yield
    if not mapped_before:
        orm.stop_mappers()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path / "var", orders=60, seed=11, malformed_rate=0.05) as running:
        yield running


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
    yield page
    context.close()
    assert problems == []  # no CSP violation, no script error, on Kanglu's pages or the sandbox's


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sandbox_orders_kanglu_imports(stack: Stack) -> tuple[int, int]:
    """From the sandbox's own truth: how many orders (PDV sales aside) sit in a situação the
    default mapping does not ignore, and how many of those the sandbox spoiled on purpose."""
    situacoes = ",".join(str(s.value) for s in DEFAULT_ACTIONS)
    truth = httpx.get(
        f"{stack.sandbox.base_url}/_sandbox/accounts/default/orders",
        params={"situacao": situacoes, "limit": 1000},
        timeout=10,
    ).json()
    # Point-of-sale (PDV) sales are not imported by default: counted out of the total.
    pdv = sum(1 for order in truth["orders"] if order["origemPedido"])
    spoiled = sum(1 for order in truth["orders"] if order["malformed"] and not order["origemPedido"])
    return truth["total"] - pdv, spoiled


def test_a_merchant_connects_tiny_and_sees_the_orders_arrive(stack: Stack, page: Any) -> None:
    base = stack.base_url
    tiny = stack.tiny

    page.goto(f"{base}/orders")
    page.wait_for_url(re.compile(re.escape(f"{base}/login?next=")))
    shot(page, "01-login")
    log_in(page, stack)
    assert status_badge(page) == "não configurado"
    shot(page, "02-integracoes-nao-configurado")

    save_tiny_credentials(page, stack)
    assert status_badge(page) == "aguardando autorização"
    assert page.input_value("#client_id") == tiny["client_id"]
    assert page.input_value("#client_secret") == ""  # write-only
    assert tiny["client_secret"] not in page.content()
    shot(page, "03-integracoes-aguardando-autorizacao")

    go_to_consent(page, stack)
    assert tiny["account_name"] in page.inner_text("main")
    shot(page, "04-tiny-consentimento")
    decide(page, stack, accept=True)
    assert status_badge(page) == "conectado"
    assert f"Tiny conectado à conta {tiny['account_name']}" in page.inner_text(".alert-success")
    facts = page.inner_text("#tiny .facts")
    assert tiny["account_name"] in facts
    assert "ainda não houve" in facts  # nothing polled yet
    assert tiny["client_secret"] not in page.content()
    shot(page, "05-integracoes-conectado")

    summary = stack.run_worker_once()
    assert summary.errors == 0

    expected, spoiled = sandbox_orders_kanglu_imports(stack)
    api_total = stack.api("/orders", per_page=1)["total"]
    assert api_total == expected > 0  # the spoiled ones too: a field defect is a warning, not a drop
    page.goto(f"{base}/orders")
    rows = page.locator("tbody tr")
    assert rows.count() == min(25, api_total)
    listed = _TOTAL.search(page.inner_text(".listing-foot"))
    assert listed is not None and int(listed.group(1).replace(".", "")) == api_total
    shot(page, "06-pedidos")

    page.goto(f"{base}/integrations")
    facts = page.inner_text("#tiny .facts")
    assert "ainda não houve" not in facts
    assert page.inner_text("#tiny .facts a[href='/orders']") == f"{api_total:,}".replace(",", ".")
    shot(page, "07-integracoes-sincronizado")

    # An order that has it all: invoice, a carrier Kanglu knows and a tracking code.
    tracked = next(
        order
        for order in stack.api("/orders", per_page=100)["items"]
        if order["invoice"] and order["carrier"] and order["tracking_url"] and order["customer"]
    )
    page.goto(f"{base}/orders?q={tracked['number']}")
    page.locator("tbody tr a", has_text=tracked["number"]).first.click()
    page.wait_for_url(f"{base}/orders/{tracked['id']}")
    body = page.inner_text("main")
    assert tracked["customer"]["name"] in body
    assert tracked["invoice"]["number"] in body
    assert page.inner_text(".key-groups").replace(" ", "") == tracked["invoice"]["access_key"]
    assert tracked["carrier"]["name"] in body
    assert tracked["tracking_code"] in body
    link = page.locator("a:has-text('Abrir página de rastreamento')")
    assert link.get_attribute("href") == tracked["tracking_url"]
    shot(page, "08-pedido")

    customers = stack.api("/customers", per_page=1)["total"]
    page.goto(f"{base}/customers")
    assert customers > 0
    assert f"de {customers} cliente" in page.inner_text(".listing-foot")
    shot(page, "09-clientes")

    page.goto(f"{base}/carriers")
    page.wait_for_selector("h1:has-text('Transportadoras')")
    shot(page, "10-transportadoras")

    page.goto(f"{base}/situacoes")
    assert page.locator("#situacao_1").input_value() == "import"
    assert page.locator("#situacao_6").input_value() == "mark_delivered"
    shot(page, "11-situacoes")

    if spoiled:
        # Orders with a defective field are imported with a warning; none is left as a failure.
        page.goto(f"{base}/orders/failures")
        assert page.locator("tbody tr").count() == 0
        shot(page, "12-falhas-de-importacao")

    # Authorising again and refusing this time leaves the connection as it was.
    page.goto(f"{base}/integrations")
    go_to_consent(page, stack, button="Autorizar de novo")
    decide(page, stack, accept=False)
    assert "A autorização foi negada no Tiny. Nada foi alterado." in page.inner_text(".alert-error")
    assert status_badge(page) == "conectado"
    assert tiny["account_name"] in page.inner_text("#tiny .facts")
    assert stack.api("/integrations/tiny")["status"] == "connected"
    assert stack.api("/orders", per_page=1)["total"] == api_total
    shot(page, "13-integracoes-autorizacao-negada")


def test_negar_on_the_consent_page_changes_nothing(stack: Stack, page: Any) -> None:
    base = stack.base_url
    log_in(page, stack)
    save_tiny_credentials(page, stack)
    before = stack.api("/integrations/tiny")
    assert before["status"] == "pending"

    go_to_consent(page, stack)
    decide(page, stack, accept=False)

    assert "A autorização foi negada no Tiny. Nada foi alterado." in page.inner_text(".alert-error")
    assert status_badge(page) == "aguardando autorização"
    assert page.locator("#tiny button:has-text('Conectar')").is_visible()
    assert stack.api("/integrations/tiny") == before
    assert stack.run_worker_once().imported == 0
    assert stack.api("/orders", per_page=1)["total"] == 0
    page.goto(f"{base}/orders")
    assert "Nenhum pedido importado ainda" in page.inner_text("main")
    shot(page, "20-negado-integracoes")


def test_the_readme_screenshots_regenerate(tmp_path: Path, browser: Any) -> None:
    """`tools/screenshots.py` runs the same flow and writes the README's pictures: light PNGs,
    1280 px wide at device scale 1, and the same pages and the menu on a 390 px phone."""
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "tools" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    written = tool.regenerate(tmp_path, browser, demo_ports=False)

    pages = ["integracoes", "pedidos", "pedido", "transportadoras"]
    assert [p.name for p in written] == [f"{n}.png" for n in pages] + [f"{n}-celular.png" for n in [*pages, "menu"]]
    for path in written:
        name, data = path.stem, path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        if name.endswith("-celular"):
            assert width == 390 and 400 < height < 3000, (name, width, height)
        else:
            assert width == 1280 and 400 < height < 2000, (name, width, height)
        assert len(data) < tool.MAX_BYTES
