"""A sandbox on a real port for the contract tests; every test makes its own accounts."""

from __future__ import annotations

import itertools
import json
import pathlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from kanglu.sandbox import SandboxClock, SandboxServer
from kanglu.sandbox.accounts import Account

# 2026-11-18 00:53:20 UTC: a fixed "now" so datasets and expiries never depend on the wall clock.
START = 1_795_000_400
SCHEMAS = json.loads((pathlib.Path(__file__).parent / "tiny_v3_schemas.json").read_text(encoding="utf-8"))["schemas"]
_seeds = itertools.count(1000)


class SleepRecorder:
    """Stands in for time.sleep: injected latency is recorded, not waited for."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="session")
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture(scope="session")
def sandbox(sleeps: SleepRecorder) -> Iterator[SandboxServer]:
    with SandboxServer(orders=20, seed=1, clock=SandboxClock(start=START), sleep=sleeps) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def new_account(sandbox: SandboxServer, **options: Any) -> Account:
    options.setdefault("seed", next(_seeds))
    options.setdefault("orders", 60)
    settings = options.pop("settings", {})
    settings.setdefault("rate_limit", 0)
    return sandbox.create_account(settings=settings, **options)


def api_client(sandbox: SandboxServer, account: Account) -> httpx.Client:
    token = sandbox.issue_tokens(account)["access_token"]
    return httpx.Client(base_url=sandbox.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.fixture
def account(sandbox: SandboxServer) -> Account:
    return new_account(sandbox)


@pytest.fixture
def api(sandbox: SandboxServer, account: Account) -> Iterator[httpx.Client]:
    with api_client(sandbox, account) as client:
        yield client


def authorize_url(sandbox: SandboxServer, account: Account, **params: str) -> str:
    query = {
        "client_id": account.client_id, "redirect_uri": account.settings.redirect_uri, "scope": "openid",
        "response_type": "code", "state": "estado-123", **params,
    }
    return f"{sandbox.auth_url}/auth?{urlencode(query)}"


def consent(http: httpx.Client, sandbox: SandboxServer, url: str, decision: str = "accept") -> dict[str, str]:
    """Open the consent page like a browser and click a button; the redirect's query parameters."""
    page = http.get(url)
    assert page.status_code == 200, page.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.text)
    action = re.search(r'<form[^>]+action="([^"]+)"', page.text)
    assert ticket and action
    answer = http.post(sandbox.base_url + action.group(1), data={"ticket": ticket.group(1), "decision": decision})
    assert answer.status_code == 302
    location = answer.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()} | {"_location": location}


def all_pages(client: httpx.Client, path: str, limit: int = 100, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        answer = client.get(path, params={**params, "limit": limit, "offset": offset})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["itens"]
        offset += limit
        if offset >= body["paginacao"]["total"]:
            return items
