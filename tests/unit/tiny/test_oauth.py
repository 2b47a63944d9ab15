"""Tiny's OAuth server (Keycloak) through the adapter: URLs, forms, grants and error mapping."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kanglu.adapters.tiny import TinyOAuth
from kanglu.application.errors import RateLimited, ReauthorizationRequired, TransientFailure
from kanglu.application.ports import OAuthClient
from kanglu.domain.secrets import Secret
from tests.unit.tiny.fake_tiny import AUTH

CLIENT = OAuthClient("tiny-api-0123456789abcdef0123456789abcdef01234567-1719830000", Secret("client-s3cret-XYZ"))
GRANT = {"access_token": "acc-T0KEN-1", "expires_in": 14400, "refresh_token": "ref-T0KEN-1",
         "refresh_expires_in": 86400, "token_type": "Bearer", "scope": "openid email offline_access"}


class TokenServer:
    """Answers POST /token with what the test scripts; records the forms it was sent."""

    def __init__(self, *answers: httpx.Response | type[Exception]) -> None:
        self.answers = list(answers)
        self.forms: list[dict[str, list[str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path.endswith("/openid-connect/token")
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        self.forms.append(parse_qs(request.content.decode()))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, type):
            raise answer("scripted failure", request=request)  # type: ignore[call-arg]
        return answer


def oauth(server: TokenServer) -> TinyOAuth:
    return TinyOAuth(httpx.Client(transport=httpx.MockTransport(server)), AUTH, sleep=lambda s: None)


def test_the_authorize_url_carries_what_tiny_and_pkce_need() -> None:
    url = oauth(TokenServer(httpx.Response(500))).authorize_url(
        CLIENT.client_id, "http://127.0.0.1:8000/integrations/tiny/callback", "st.ate", "chal-lenge")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTH + "/auth"
    assert parse_qs(parts.query) == {
        "client_id": [CLIENT.client_id], "redirect_uri": ["http://127.0.0.1:8000/integrations/tiny/callback"],
        "scope": ["openid"], "response_type": ["code"], "state": ["st.ate"], "code_challenge": ["chal-lenge"],
        "code_challenge_method": ["S256"],
    }


def test_code_exchange_posts_the_form_and_returns_the_grant() -> None:
    server = TokenServer(httpx.Response(200, json=GRANT))
    grant = oauth(server).exchange_code(CLIENT, "the-code", "http://127.0.0.1:8000/integrations/tiny/callback", "verif")
    assert server.forms == [{
        "grant_type": ["authorization_code"], "client_id": [CLIENT.client_id], "client_secret": ["client-s3cret-XYZ"],
        "redirect_uri": ["http://127.0.0.1:8000/integrations/tiny/callback"], "code": ["the-code"],
        "code_verifier": ["verif"],
    }]
    assert grant.access_token == Secret("acc-T0KEN-1") and grant.refresh_token == Secret("ref-T0KEN-1")
    assert (grant.expires_in, grant.refresh_expires_in) == (14400, 86400)
    assert "T0KEN" not in repr(grant)


def test_refresh_returns_the_rotated_refresh_token() -> None:
    server = TokenServer(httpx.Response(200, json={**GRANT, "refresh_token": "ref-T0KEN-2"}))
    grant = oauth(server).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert server.forms[0] == {"grant_type": ["refresh_token"], "client_id": [CLIENT.client_id],
                               "client_secret": ["client-s3cret-XYZ"], "refresh_token": ["ref-T0KEN-1"]}
    assert grant.refresh_token == Secret("ref-T0KEN-2")


def test_a_refresh_answer_without_a_new_refresh_token_keeps_the_old_one() -> None:
    body = {k: v for k, v in GRANT.items() if k not in ("refresh_token", "refresh_expires_in")}
    grant = oauth(TokenServer(httpx.Response(200, json=body))).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert grant.refresh_token == Secret("ref-T0KEN-1") and grant.refresh_expires_in is None


def test_an_answer_that_omits_expires_in_gets_the_documented_lifetime() -> None:
    body = {"access_token": "a", "refresh_token": "r", "refresh_expires_in": 0}
    grant = oauth(TokenServer(httpx.Response(200, json=body))).refresh(CLIENT, Secret("r0"))
    assert grant.expires_in == 14400 and grant.refresh_expires_in is None


@pytest.mark.parametrize(("status", "error"), [(400, "invalid_grant"), (401, "invalid_client"),
                                               (400, "invalid_client")])
def test_definite_refusals_require_reauthorization(status: int, error: str) -> None:
    server = TokenServer(httpx.Response(status, json={"error": error, "error_description": "Token is not active"}))
    with pytest.raises(ReauthorizationRequired) as caught:
        oauth(server).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert caught.value.error_code == error
    assert caught.value.message.startswith("o ")  # Portuguese, lower case: the use case wraps it
    assert len(server.forms) == 1


@pytest.mark.parametrize("answer", [httpx.Response(400, json={"error": "unauthorized_client"}),
                                    httpx.Response(400, json={"error": "invalid_request"}),
                                    httpx.Response(401), httpx.Response(403, text="<html>WAF</html>")])
def test_a_refresh_refused_without_invalid_grant_or_invalid_client_keeps_the_token(answer: httpx.Response) -> None:
    """Only Tiny saying this refresh token (or this application) is no longer accepted ends a
    connection; any other refusal of a renewal is retried, the stored refresh token kept."""
    with pytest.raises(TransientFailure) as caught:
        oauth(TokenServer(answer)).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert "recusou a renovação" in caught.value.message


def test_a_bare_401_from_the_token_endpoint_is_a_refusal_of_the_client() -> None:
    with pytest.raises(ReauthorizationRequired) as caught:
        oauth(TokenServer(httpx.Response(401))).exchange_code(CLIENT, "c", "http://x/cb", "v")
    assert caught.value.error_code == "invalid_client"


@pytest.mark.parametrize("answer", [httpx.Response(500), httpx.Response(503, text="<html>"),
                                    httpx.Response(400, json={"error": "temporarily_unavailable"}),
                                    httpx.Response(400, text="Bad gateway page"),
                                    httpx.Response(200, json={"token_type": "Bearer"})])
def test_passing_failures_are_transient(answer: httpx.Response) -> None:
    with pytest.raises(TransientFailure) as caught:
        oauth(TokenServer(answer)).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert not isinstance(caught.value, RateLimited)


def test_429_is_a_rate_limit() -> None:
    server = TokenServer(httpx.Response(429, headers={"X-RateLimit-Reset": "12"}))
    with pytest.raises(RateLimited) as caught:
        oauth(server).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert caught.value.retry_after == 12


def test_a_timeout_is_transient_and_never_repeated_because_the_refresh_may_have_happened() -> None:
    server = TokenServer(httpx.ReadTimeout)
    with pytest.raises(TransientFailure, match="demorou demais"):
        oauth(server).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert len(server.forms) == 1


def test_token_calls_wait_longer_than_api_calls_because_a_lost_answer_loses_the_tokens() -> None:
    seen: list[dict[str, float | None]] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json=GRANT)

    client = httpx.Client(transport=httpx.MockTransport(server), timeout=httpx.Timeout(2.0))
    TinyOAuth(client, AUTH, sleep=lambda s: None).refresh(CLIENT, Secret("ref-OLD"))
    assert seen == [{"connect": 5.0, "read": 60.0, "write": 60.0, "pool": 60.0}]


def test_a_request_that_never_left_is_sent_again() -> None:
    server = TokenServer(httpx.ConnectError, httpx.Response(200, json=GRANT))
    grant = oauth(server).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert grant.access_token == Secret("acc-T0KEN-1") and len(server.forms) == 2

    down = TokenServer(httpx.ConnectError)
    with pytest.raises(TransientFailure):
        oauth(down).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert len(down.forms) == 3


def test_token_calls_are_counted() -> None:
    client = oauth(TokenServer(httpx.Response(400, json={"error": "invalid_grant"})))
    with pytest.raises(ReauthorizationRequired):
        client.refresh(CLIENT, Secret("r"))
    assert client.call_counts() == {"POST /token": {"400": 1}}


def test_no_secret_reaches_logs_or_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    secrets = ("client-s3cret-XYZ", "ref-T0KEN-1", "acc-T0KEN-1", "the-c0de", "verif-1er")
    errors: list[BaseException] = []
    answers = [httpx.Response(400, json={"error": "invalid_grant", "error_description": "Token is not active"}),
               httpx.Response(401), httpx.Response(503), httpx.Response(429), httpx.ReadTimeout, httpx.ConnectError,
               httpx.Response(200, json={"no": "token"})]
    with caplog.at_level(logging.DEBUG):
        for answer in answers:
            client = oauth(TokenServer(answer))
            for call in (lambda: client.refresh(CLIENT, Secret("ref-T0KEN-1")),
                         lambda: client.exchange_code(CLIENT, "the-c0de", "http://x/cb", "verif-1er")):
                try:
                    call()
                except Exception as exc:  # noqa: BLE001 - every error's text is inspected below
                    errors.append(exc)
        oauth(TokenServer(httpx.Response(200, json=GRANT))).refresh(CLIENT, Secret("ref-T0KEN-1"))
    assert len(errors) == 2 * len(answers)
    text = "\n".join([r.getMessage() + repr(r.__dict__) for r in caplog.records]
                     + [str(e) + repr(e) + repr(e.__dict__) + repr(e.__cause__) + repr(e.__context__) for e in errors])
    assert caplog.records
    for secret in secrets:
        assert secret not in text
