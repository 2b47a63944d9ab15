"""The Tiny adapter against the sandbox over real HTTP: one sandbox per session, an account per test."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kanglu.adapters.tiny import RateLimitPacer, RetryPolicy, TinyGateway, TinyOAuth
from kanglu.application.ports import OAuthClient, TokenGrant
from kanglu.domain.secrets import Secret
from kanglu.sandbox import SandboxServer
from kanglu.sandbox.accounts import Account

FAST_RETRIES = RetryPolicy(backoff_initial=0.01, backoff_max=0.05)
_seeds = itertools.count(100)


class OAuthTokens:
    """A connection's tokens for tests: renews through the adapter's own refresh, keeping the
    rotated refresh token, as RefreshToken does."""

    def __init__(self, oauth: TinyOAuth, client: OAuthClient, grant: TokenGrant, key: str) -> None:
        self._oauth = oauth
        self._client = client
        self.grant = grant
        self.key = key
        self.renewals = 0

    def access_token(self) -> Secret:
        return self.grant.access_token

    def renew(self) -> Secret:
        self.renewals += 1
        self.grant = self._oauth.refresh(self._client, self.grant.refresh_token)
        return self.grant.access_token


class Tiny:
    """What a test needs of one sandbox account: credentials, control API, adapter objects."""

    def __init__(self, sandbox: SandboxServer, account: Account, http: httpx.Client,
                 api_transport: httpx.BaseTransport) -> None:
        self.sandbox = sandbox
        self.account = account
        self.http = http
        self.api_transport = api_transport
        self.credentials = sandbox.credentials(account)
        self.client = OAuthClient(self.credentials["client_id"], Secret(self.credentials["client_secret"]))
        self.oauth = TinyOAuth(http, sandbox.auth_url)
        self.control = httpx.Client(base_url=f"{sandbox.base_url}/_sandbox/accounts/{account.id}", timeout=10)

    def gateway(self, **options: Any) -> TinyGateway:
        options.setdefault("pacer", RateLimitPacer(burst_interval=0.0, fallback_interval=0.0))
        options.setdefault("policy", FAST_RETRIES)
        options.setdefault("timeout", httpx.Timeout(5.0))
        return TinyGateway(self.api_transport, self.sandbox.api_url, **options)

    def tokens(self) -> OAuthTokens:
        answer = self.sandbox.issue_tokens(self.account)
        grant = TokenGrant(Secret(str(answer["access_token"])), Secret(str(answer["refresh_token"])),
                           int(answer["expires_in"]), int(answer["refresh_expires_in"]))  # type: ignore[arg-type]
        return OAuthTokens(self.oauth, self.client, grant, key=f"connection:{self.account.id}")

    def truth(self, **query: str) -> list[dict[str, Any]]:
        return self.control.get("/orders", params=query).raise_for_status().json()["orders"]

    def faults(self, **changes: Any) -> None:
        self.control.patch("/faults", json=changes).raise_for_status()

    def token_faults(self, **changes: Any) -> None:
        self.control.patch("/faults", params={"scope": "token"}, json=changes).raise_for_status()

    def settings(self, **changes: Any) -> None:
        self.control.patch("", json=changes).raise_for_status()

    def counters(self) -> dict[str, Any]:
        return self.control.get("/counters").raise_for_status().json()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(orders=10, seed=1, settings={"rate_limit": 0}) as server:
        yield server


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.fixture(scope="session")
def api_transport() -> Iterator[httpx.HTTPTransport]:
    """The gateway's pool, as production builds it (containers.new_api_transport)."""
    with httpx.HTTPTransport() as transport:
        yield transport


@pytest.fixture
def make_tiny(sandbox: SandboxServer, http: httpx.Client, api_transport: httpx.HTTPTransport) -> Callable[..., Tiny]:
    def make(orders: int = 150, **options: Any) -> Tiny:
        options.setdefault("seed", next(_seeds))
        settings = {"rate_limit": 0, **options.pop("settings", {})}
        return Tiny(sandbox, sandbox.create_account(orders=orders, settings=settings, **options), http,
                    api_transport)

    return make


@pytest.fixture
def tiny(make_tiny: Callable[..., Tiny]) -> Tiny:
    return make_tiny()


def every_order_since(sandbox: SandboxServer) -> datetime:
    """Before the sandbox's oldest order (its dataset spreads over the 60 days before its clock)."""
    return datetime.fromtimestamp(sandbox.clock.now(), UTC) - timedelta(days=62)
