"""The OAuth dance against the sandbox's Keycloak-like server, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from kanglu.adapters.tiny import TinyOAuth
from kanglu.application.errors import ReauthorizationRequired, TransientFailure
from kanglu.application.ports import OAuthClient
from kanglu.application.tokens import FixedTokens
from kanglu.domain.pkce import new_verifier, s256_challenge
from kanglu.domain.secrets import Secret
from kanglu.sandbox import SandboxClock, SandboxServer
from tests.integration.tiny.conftest import OAuthTokens, Tiny, every_order_since


def consent(http: httpx.Client, authorize_url: str, decision: str) -> dict[str, list[str]]:
    """What the merchant's browser does: open the consent page, click a button, follow the
    redirect to Kanglu's callback (only its query matters here)."""
    page = http.get(authorize_url)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    form = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.text)
    assert form and ticket, page.text
    answer = http.post(urljoin(authorize_url, unescape(form.group(1))),
                       data={"ticket": unescape(ticket.group(1)), "decision": decision})
    assert answer.status_code in (302, 303)
    return parse_qs(urlsplit(answer.headers["location"]).query)


def test_the_whole_dance_consent_page_code_exchange_and_the_account_name(tiny: Tiny) -> None:
    verifier = new_verifier()
    url = tiny.oauth.authorize_url(tiny.client.client_id, tiny.credentials["redirect_uri"], "st4te", s256_challenge(verifier))
    page = tiny.http.get(url)
    assert "Autorizar" in page.text and "Negar" in page.text  # Portuguese, as Tiny's

    query = consent(tiny.http, url, "accept")
    assert query["state"] == ["st4te"]
    grant = tiny.oauth.exchange_code(tiny.client, query["code"][0], tiny.credentials["redirect_uri"], verifier)
    assert grant.expires_in == 14400 and grant.refresh_expires_in == 86400

    name = tiny.gateway().account_name(FixedTokens(grant.access_token, key="connection:new"))
    assert name == tiny.credentials["account_name"]

    # The code was single-use: a replay is a definite refusal.
    with pytest.raises(ReauthorizationRequired) as caught:
        tiny.oauth.exchange_code(tiny.client, query["code"][0], tiny.credentials["redirect_uri"], verifier)
    assert caught.value.error_code == "invalid_grant"


def test_a_denied_consent_comes_back_as_access_denied(tiny: Tiny) -> None:
    url = tiny.oauth.authorize_url(tiny.client.client_id, tiny.credentials["redirect_uri"], "s", s256_challenge("v" * 50))
    query = consent(tiny.http, url, "deny")
    assert query["error"] == ["access_denied"] and query["state"] == ["s"] and "code" not in query


@pytest.mark.parametrize("mistake", ["verifier", "redirect_uri", "secret"])
def test_a_wrong_exchange_is_refused_for_good(tiny: Tiny, mistake: str) -> None:
    verifier = new_verifier()
    url = tiny.oauth.authorize_url(tiny.client.client_id, tiny.credentials["redirect_uri"], "s", s256_challenge(verifier))
    code = consent(tiny.http, url, "accept")["code"][0]
    client, redirect = tiny.client, tiny.credentials["redirect_uri"]
    if mistake == "verifier":
        verifier = new_verifier()
    elif mistake == "redirect_uri":
        redirect += "/other"
    else:
        client = OAuthClient(client.client_id, Secret("wrong-secret"))
    with pytest.raises(ReauthorizationRequired) as caught:
        tiny.oauth.exchange_code(client, code, redirect, verifier)
    assert caught.value.error_code == ("invalid_client" if mistake == "secret" else "invalid_grant")


def test_refresh_rotates_and_a_spent_refresh_token_is_refused(tiny: Tiny) -> None:
    first = tiny.tokens().grant
    second = tiny.oauth.refresh(tiny.client, first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    with pytest.raises(ReauthorizationRequired) as caught:
        tiny.oauth.refresh(tiny.client, first.refresh_token)
    assert caught.value.error_code == "invalid_grant"
    assert tiny.counters()["oauth"]["spent_refresh_token_uses"] == 1


def test_token_endpoint_faults_are_transient(tiny: Tiny) -> None:
    grant = tiny.tokens().grant
    tiny.token_faults(force_errors=[503])
    with pytest.raises(TransientFailure):
        tiny.oauth.refresh(tiny.client, grant.refresh_token)
    # Nothing was spent: the same refresh token still works once the server is back.
    assert tiny.oauth.refresh(tiny.client, grant.refresh_token).access_token.value


@pytest.fixture
def own_clock_sandbox() -> Iterator[SandboxServer]:
    """A sandbox whose clock moves only when told, so tokens can expire without waiting."""
    with SandboxServer(orders=30, seed=4, clock=SandboxClock(start=1_790_000_000), settings={"rate_limit": 0}) as server:
        yield server


def test_an_expired_access_token_is_renewed_once_and_the_call_succeeds(
    own_clock_sandbox: SandboxServer, http: httpx.Client, api_transport: httpx.HTTPTransport
) -> None:
    tiny = Tiny(own_clock_sandbox, own_clock_sandbox.default_account, http, api_transport)
    tokens = tiny.tokens()
    gateway = tiny.gateway()
    own_clock_sandbox.clock.advance(14_401)  # four hours and a second: the access token is dead
    page = gateway.changed_orders(tokens, every_order_since(own_clock_sandbox), 0)
    assert page.total == 30 and tokens.renewals == 1
    assert gateway.call_counts()["GET /pedidos"] == {"401": 1, "200": 1}


def test_revoked_access_requires_reauthorization(
    own_clock_sandbox: SandboxServer, http: httpx.Client, api_transport: httpx.HTTPTransport
) -> None:
    tiny = Tiny(own_clock_sandbox, own_clock_sandbox.default_account, http, api_transport)
    tokens: OAuthTokens = tiny.tokens()
    own_clock_sandbox.revoke(own_clock_sandbox.default_account)
    with pytest.raises(ReauthorizationRequired) as caught:
        tiny.gateway().changed_orders(tokens, every_order_since(own_clock_sandbox), 0)
    assert caught.value.error_code == "invalid_grant" and tokens.renewals == 1


def test_a_refresh_token_dead_after_a_day_is_refused(
    own_clock_sandbox: SandboxServer, http: httpx.Client, api_transport: httpx.HTTPTransport
) -> None:
    tiny = Tiny(own_clock_sandbox, own_clock_sandbox.default_account, http, api_transport)
    grant = tiny.tokens().grant
    own_clock_sandbox.clock.advance(86_401)
    with pytest.raises(ReauthorizationRequired):
        TinyOAuth(http, own_clock_sandbox.auth_url).refresh(tiny.client, grant.refresh_token)
