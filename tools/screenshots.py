"""Regenerate the README's screenshots from the real product: `python tools/screenshots.py`.

Runs the flow `tests/e2e/test_browser_flow.py` proves (the Tiny sandbox, the web app, one worker
pass, Debian's Chromium through Playwright) on the dataset `kanglu demo` serves (300 orders,
seed 7, 2 % spoiled on purpose) and on the demo's ports when they are free, so the pictures are what
a newcomer sees after `make demo`. Writes docs/screenshots/{integracoes,pedidos,pedido,
transportadoras}.png: pages 1280 px wide at device scale 1, the order list cut to a 1280×800 screen;
and the same pages on a phone, {…}-celular.png, 390 px wide (a 390×844 screen), plus the phone's
menu open (menu-celular.png).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the flow lives with the tests: tests/e2e/browser_flow.py

from kanglu.entrypoints.demo import DEMO_EMAIL, DEMO_NAME  # noqa: E402
from tests.e2e.browser_flow import (  # noqa: E402
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

VIEWPORT = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PAGES = ("integracoes", "pedidos", "pedido", "transportadoras")
# Above this a screenshot is too heavy for a README; the script fails rather than commit it.
MAX_BYTES = 300_000


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _showcase_order(stack: Stack) -> dict[str, Any]:
    """An order with everything a merchant looks for: customer, invoice, carrier, tracking."""
    for page in range(1, 20):
        answer = stack.api("/orders", page=page, per_page=100)
        for order in answer["items"]:
            if (order["invoice"] and order["carrier"] and order["tracking_url"] and order["customer"]
                    and order["ecommerce_number"] and order["customer"]["phone"]
                    and order["tracking_status"] == "tracking"):
                return order
        if page * 100 >= answer["total"]:
            break
    raise SystemExit("no order with customer, invoice, carrier and tracking in the dataset")


def connect_and_poll(stack: Stack, browser: Any) -> None:
    """What the merchant does first: paste the credentials, Conectar, authorise; then one worker pass."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, stack)
    save_tiny_credentials(page, stack)
    go_to_consent(page, stack)
    decide(page, stack, accept=True)
    context.close()
    summary = stack.run_worker_once()
    if summary.imported == 0 or summary.errors:
        raise SystemExit(f"the worker pass did not import cleanly: {summary}")


def take(out: Path, stack: Stack, browser: Any, viewport: dict[str, int], suffix: str = "") -> list[Path]:
    """The four pages at one screen size; on a phone, the menu opened too."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(30_000)
    written: list[Path] = []

    def shot(name: str, rows: str | None = None, screen_only: bool = False) -> None:
        """The whole page; a long listing (`rows`) is cut after its last row that fits the
        screen, so the picture ends on a row's edge, not through one."""
        path = out / f"{name}{suffix}.png"
        if screen_only:
            page.screenshot(path=str(path))
        elif rows is None:
            page.screenshot(path=str(path), full_page=True)
        else:
            bottoms = [box["y"] + box["height"] for box in (r.bounding_box() for r in page.locator(rows).all()) if box]
            bottom = max(b for b in bottoms if b <= viewport["height"])
            page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": viewport["width"], "height": bottom + 1})
        written.append(path)

    log_in(page, stack)
    page.goto(f"{stack.base_url}/integrations")
    if status_badge(page) != "conectado":
        raise SystemExit("Integrações does not say conectado")
    shot("integracoes")

    page.goto(f"{stack.base_url}/orders")
    page.wait_for_selector("tbody tr")
    shot("pedidos", rows="tbody tr")

    order = _showcase_order(stack)
    page.goto(f"{stack.base_url}/orders/{order['id']}")
    page.wait_for_selector(".key-groups")
    shot("pedido")

    page.goto(f"{stack.base_url}/carriers")
    page.wait_for_selector("h1")
    shot("transportadoras")

    if page.locator(".menu-toggle").is_visible():
        page.goto(f"{stack.base_url}/orders")
        page.click(".menu-toggle")
        page.wait_for_selector("#menu a")
        shot("menu", screen_only=True)
    context.close()
    return written


def regenerate(out: Path, browser: Any, *, demo_ports: bool = True) -> list[Path]:
    """The demo's dataset, served, connected and polled once, photographed into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    # The demo's ports make the redirect URL and the invite link on the page read as they do
    # after `make demo`; any free port does when those are taken.
    web_port = 8000 if demo_ports and _free(8000) else 0
    sandbox_port = 8900 if demo_ports and _free(8900) else 0
    with tempfile.TemporaryDirectory(prefix="kanglu-screenshots-") as tmp, running_stack(
        Path(tmp),
        orders=300,
        seed=7,
        malformed_rate=0.02,
        backfill_days=30,
        merchant_name=DEMO_NAME,
        merchant_email=DEMO_EMAIL,
        web_port=web_port,
        sandbox_port=sandbox_port,
    ) as stack:
        connect_and_poll(stack, browser)
        return take(out, stack, browser, VIEWPORT) + take(out, stack, browser, PHONE, suffix="-celular")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    parser.add_argument("--free-ports", action="store_true", help="any free ports, not the demo's 8000 and 8900")
    args = parser.parse_args(argv)
    # The spoiled orders log their refusal on purpose; the script's output is the file list.
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # it sets INFO for itself otherwise

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright for Python is missing: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    executable = chromium_path()
    if executable is None:
        print("Chromium is missing: apt-get install -y chromium", file=sys.stderr)
        return 2

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            written = regenerate(args.out, browser, demo_ports=not args.free_ports)
        finally:
            browser.close()

    too_big = False
    for path in written:
        size = path.stat().st_size
        too_big |= size > MAX_BYTES
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {size / 1000:.0f} kB")
    if too_big:
        print(f"a screenshot is over {MAX_BYTES / 1000:.0f} kB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
