"""The sandbox's OAuth server over real HTTP: consent, codes, PKCE, rotation, expiry, revocation."""

from __future__ import annotations

import httpx
import pytest

from kanglu.domain.pkce import new_verifier, s256_challenge
from kanglu.sandbox.accounts import Account
from tests.contract.conftest import authorize_url, consent, new_account


def token(http: httpx.Client, sandbox, **form: str) -> httpx.Response:
    return http.post(f"{sandbox.auth_url}/token", data=form)


def code_form(account: Account, code: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": account.settings.redirect_uri,
            "client_id": account.client_id, "client_secret": account.client_secret, **extra}


def refresh_form(account: Account, refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": account.client_id,
            "client_secret": account.client_secret}


def connect(http: httpx.Client, sandbox, account: Account) -> dict:
    verifier = new_verifier()
    url = authorize_url(sandbox, account, code_challenge=s256_challenge(verifier), code_challenge_method="S256")
    redirect = consent(http, sandbox, url)
    answer = token(http, sandbox, **code_form(account, redirect["code"], code_verifier=verifier))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_consent_page_is_in_portuguese_and_names_the_app_and_account(http, sandbox, account) -> None:
    page = http.get(authorize_url(sandbox, account))
    assert page.status_code == 200
    assert 'lang="pt-BR"' in page.text
    for text in ("Autorizar", "Negar", "Kanglu", account.name):
        assert text in page.text
    css = http.get(sandbox.base_url + "/resources/sandbox.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "<style" not in page.text and "style=" not in page.text and "<script" not in page.text


def test_accepting_redirects_with_code_and_state_and_the_code_buys_tokens(http, sandbox, account) -> None:
    verifier = new_verifier()
    url = authorize_url(sandbox, account, code_challenge=s256_challenge(verifier), code_challenge_method="S256")
    redirect = consent(http, sandbox, url)
    assert redirect["_location"].startswith(account.settings.redirect_uri + "?")
    assert redirect["state"] == "estado-123"
    answer = token(http, sandbox, **code_form(account, redirect["code"], code_verifier=verifier))
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 14_400 and body["refresh_expires_in"] == 86_400
    assert body["scope"] == "openid email offline_access"
    assert body["access_token"] and body["refresh_token"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-request-id"]
    info = http.get(f"{sandbox.api_url}/info", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200
    assert info.json()["fantasia"] == account.name


def test_denying_redirects_with_access_denied_and_state(http, sandbox, account) -> None:
    redirect = consent(http, sandbox, authorize_url(sandbox, account), decision="deny")
    assert redirect["error"] == "access_denied"
    assert redirect["state"] == "estado-123"
    assert "code" not in redirect
    assert account.counters.get("oauth", "consent_deny") == 1


def test_a_consent_ticket_is_single_use(http, sandbox, account) -> None:
    page = http.get(authorize_url(sandbox, account)).text
    ticket = page.split('name="ticket" value="')[1].split('"')[0]
    action = sandbox.base_url + "/realms/tiny/login-actions/consent"
    assert http.post(action, data={"ticket": ticket, "decision": "accept"}).status_code == 302
    again = http.post(action, data={"ticket": ticket, "decision": "accept"})
    assert again.status_code == 400 and "expirou" in again.text


def test_a_wrong_redirect_uri_shows_keycloaks_error_page_and_never_redirects(http, sandbox, account) -> None:
    for wrong in ("http://127.0.0.1:8000/integrations/tiny/callback/", "https://evil.example/callback", ""):
        page = http.get(authorize_url(sandbox, account, redirect_uri=wrong))
        assert page.status_code == 400
        assert "location" not in page.headers
        assert "Invalid parameter: redirect_uri" in page.text


def test_an_unknown_client_gets_an_error_page(http, sandbox, account) -> None:
    page = http.get(authorize_url(sandbox, account, client_id="tiny-api-unknown"))
    assert page.status_code == 400 and "Client not found." in page.text


def test_a_bad_response_type_is_sent_back_to_the_client(http, sandbox, account) -> None:
    answer = http.get(authorize_url(sandbox, account, response_type="token"))
    assert answer.status_code == 302
    assert "error=unsupported_response_type" in answer.headers["location"]


def test_a_code_works_once_and_a_replay_revokes_what_it_granted(http, sandbox, account) -> None:
    redirect = consent(http, sandbox, authorize_url(sandbox, account))
    first = token(http, sandbox, **code_form(account, redirect["code"]))
    assert first.status_code == 200
    replay = token(http, sandbox, **code_form(account, redirect["code"]))
    assert replay.status_code == 400
    assert replay.json() == {"error": "invalid_grant", "error_description": "Code not valid"}
    access = first.json()["access_token"]
    assert http.get(f"{sandbox.api_url}/info", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_a_code_expires(http, sandbox, account) -> None:
    redirect = consent(http, sandbox, authorize_url(sandbox, account))
    sandbox.clock.advance(account.settings.code_lifetime + 1)
    answer = token(http, sandbox, **code_form(account, redirect["code"]))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_the_code_exchange_needs_the_exact_redirect_uri(http, sandbox, account) -> None:
    redirect = consent(http, sandbox, authorize_url(sandbox, account))
    answer = token(http, sandbox, **code_form(account, redirect["code"], redirect_uri="http://127.0.0.1:8000/"))
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "Incorrect redirect_uri"}


@pytest.mark.parametrize(
    ("verifier", "description"),
    [(None, "PKCE code verifier not specified"), ("x" * 50, "PKCE verification failed: Code mismatch"),
     ("short", "PKCE verification failed: Invalid code verifier")],
)
def test_pkce_is_checked(http, sandbox, account, verifier, description) -> None:
    challenge = s256_challenge(new_verifier())
    redirect = consent(http, sandbox, authorize_url(sandbox, account, code_challenge=challenge,
                                                    code_challenge_method="S256"))
    extra = {} if verifier is None else {"code_verifier": verifier}
    answer = token(http, sandbox, **code_form(account, redirect["code"], **extra))
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": description}


def test_client_authentication(http, sandbox, account) -> None:
    tokens = connect(http, sandbox, account)
    wrong = token(http, sandbox, **{**refresh_form(account, tokens["refresh_token"]), "client_secret": "nope"})
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "invalid_client",
                            "error_description": "Invalid client or Invalid client credentials"}
    unknown = token(http, sandbox, **{**refresh_form(account, tokens["refresh_token"]), "client_id": "tiny-api-x"})
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    missing = token(http, sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    basic = http.post(f"{sandbox.auth_url}/token", auth=(account.client_id, account.client_secret),
                      data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert basic.status_code == 200


def test_grant_type_errors(http, sandbox, account) -> None:
    creds = {"client_id": account.client_id, "client_secret": account.client_secret}
    assert token(http, sandbox, **creds).json() == {
        "error": "invalid_request", "error_description": "Missing form parameter: grant_type"}
    unsupported = token(http, sandbox, grant_type="password", **creds)
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"


def test_refresh_rotates_and_a_spent_token_is_refused_and_counted(http, sandbox, account) -> None:
    first = connect(http, sandbox, account)
    second = token(http, sandbox, **refresh_form(account, first["refresh_token"]))
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert account.counters.get("oauth", "spent_refresh_token_uses") == 0

    spent = token(http, sandbox, **refresh_form(account, first["refresh_token"]))
    assert spent.status_code == 400
    assert spent.json() == {"error": "invalid_grant", "error_description": "Stale token"}
    assert account.counters.get("oauth", "spent_refresh_token_uses") == 1
    assert account.counters.get("oauth", "refresh_calls") == 2
    counters = http.get(f"{sandbox.base_url}/_sandbox/accounts/{account.id}/counters").json()
    assert counters["oauth"]["spent_refresh_token_uses"] == 1
    # Keycloak with refresh-token revocation: the replay logged the session out.
    after = token(http, sandbox, **refresh_form(account, rotated["refresh_token"]))
    assert after.json() == {"error": "invalid_grant", "error_description": "Session not active"}


def test_a_spent_token_can_leave_the_session_alive_when_configured(http, sandbox) -> None:
    account = new_account(sandbox, settings={"reuse_revokes_session": False})
    first = connect(http, sandbox, account)
    rotated = token(http, sandbox, **refresh_form(account, first["refresh_token"])).json()
    assert token(http, sandbox, **refresh_form(account, first["refresh_token"])).status_code == 400
    assert token(http, sandbox, **refresh_form(account, rotated["refresh_token"])).status_code == 200


def test_tokens_expire_with_the_configured_lifetimes(http, sandbox) -> None:
    account = new_account(sandbox, settings={"access_lifetime": 60, "refresh_lifetime": 300})
    tokens = connect(http, sandbox, account)
    assert tokens["expires_in"] == 60 and tokens["refresh_expires_in"] == 300
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert http.get(f"{sandbox.api_url}/info", headers=bearer).status_code == 200
    sandbox.clock.advance(61)
    assert http.get(f"{sandbox.api_url}/info", headers=bearer).status_code == 401
    refreshed = token(http, sandbox, **refresh_form(account, tokens["refresh_token"]))
    assert refreshed.status_code == 200
    sandbox.clock.advance(301)
    dead = token(http, sandbox, **refresh_form(account, refreshed.json()["refresh_token"]))
    assert dead.json() == {"error": "invalid_grant", "error_description": "Token is not active"}


def test_revocation_kills_access_and_refresh_tokens(http, sandbox, account) -> None:
    tokens = connect(http, sandbox, account)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert http.get(f"{sandbox.api_url}/info", headers=bearer).status_code == 200
    assert http.post(f"{sandbox.base_url}/_sandbox/accounts/{account.id}/revoke").status_code == 200
    assert http.get(f"{sandbox.api_url}/info", headers=bearer).status_code == 401
    answer = token(http, sandbox, **refresh_form(account, tokens["refresh_token"]))
    assert answer.json() == {"error": "invalid_grant", "error_description": "Session not active"}
    assert connect(http, sandbox, account)["access_token"]  # the merchant can connect again


def test_a_refresh_token_of_another_account_is_refused(http, sandbox, account) -> None:
    other = new_account(sandbox)
    tokens = connect(http, sandbox, other)
    answer = token(http, sandbox, **refresh_form(account, tokens["refresh_token"]))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    garbage = token(http, sandbox, **refresh_form(account, "not-a-token"))
    assert garbage.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}


def test_the_control_consent_endpoint_answers_for_the_user(http, sandbox, account) -> None:
    url = authorize_url(sandbox, account)
    accepted = http.post(f"{sandbox.base_url}/_sandbox/consent", json={"authorize_url": url}).json()
    assert "code=" in accepted["location"] and "state=estado-123" in accepted["location"]
    denied = http.post(f"{sandbox.base_url}/_sandbox/consent", json={"authorize_url": url, "decision": "deny"})
    assert "error=access_denied" in denied.json()["location"]
    wrong = http.post(f"{sandbox.base_url}/_sandbox/consent",
                      json={"authorize_url": authorize_url(sandbox, account, redirect_uri="http://x")})
    assert wrong.status_code == 400 and wrong.json()["error"] == "Invalid parameter: redirect_uri"


def test_the_redirect_uri_follows_the_account_settings(http, sandbox, account) -> None:
    new_uri = "https://kanglu.example/integrations/tiny/callback"
    answer = http.patch(f"{sandbox.base_url}/_sandbox/accounts/{account.id}", json={"redirect_uri": new_uri})
    assert answer.status_code == 200 and answer.json()["redirect_uri"] == new_uri
    redirect = consent(http, sandbox, authorize_url(sandbox, account))
    assert redirect["_location"].startswith(new_uri + "?")


def test_the_invite_link_shows_a_portuguese_page(http, sandbox, account) -> None:
    link = sandbox.credentials(account)["invite_link"]
    assert link.startswith(sandbox.base_url + "/convite/")
    page = http.get(link)
    assert page.status_code == 200 and "Convite" in page.text and account.name in page.text
    assert http.get(sandbox.base_url + "/convite/nao-existe").status_code == 404


def test_expiring_access_tokens_gives_401_then_a_refresh_succeeds(http, sandbox, account) -> None:
    tokens = connect(http, sandbox, account)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    expire = f"{sandbox.base_url}/_sandbox/accounts/{account.id}/expire"
    assert http.post(expire).json() == {"expired": 1}
    assert http.get(f"{sandbox.api_url}/info", headers=bearer).status_code == 401
    refreshed = token(http, sandbox, **refresh_form(account, tokens["refresh_token"]))
    assert refreshed.status_code == 200
    fresh = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert http.get(f"{sandbox.api_url}/info", headers=fresh).status_code == 200
    assert http.post(expire, json={"tokens": "refresh"}).json() == {"expired": 1}
    dead = token(http, sandbox, **refresh_form(account, refreshed.json()["refresh_token"]))
    assert dead.json() == {"error": "invalid_grant", "error_description": "Token is not active"}
    assert http.post(expire, json={"tokens": "some"}).status_code == 400


# -- /revoke (RFC 7009, as Keycloak answers it) -------------------------------------------------


def revoke(http: httpx.Client, sandbox, account: Account, token_text: str, **extra: str) -> httpx.Response:
    return http.post(f"{sandbox.auth_url}/revoke", data={
        "client_id": account.client_id, "client_secret": account.client_secret, "token": token_text, **extra,
    })


def test_revoking_a_refresh_token_ends_its_session(http, sandbox, account) -> None:
    tokens = connect(http, sandbox, account)
    answer = revoke(http, sandbox, account, tokens["refresh_token"], token_type_hint="refresh_token")
    assert answer.status_code == 200 and answer.content == b""
    refused = token(http, sandbox, **refresh_form(account, tokens["refresh_token"]))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    api = http.get(f"{sandbox.api_url}/info", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert api.status_code == 401
    assert sandbox.app.oauth.revocations == [(account.id, "refresh", tokens["session_state"])]


def test_revoke_answers_as_keycloak_does(http, sandbox, account) -> None:
    tokens = connect(http, sandbox, account)
    assert revoke(http, sandbox, account, "no-such-token").status_code == 200  # RFC 7009 §2.2
    missing = http.post(f"{sandbox.auth_url}/revoke",
                        data={"client_id": account.client_id, "client_secret": account.client_secret})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    odd = revoke(http, sandbox, account, tokens["refresh_token"], token_type_hint="id_token")
    assert odd.status_code == 400 and odd.json()["error"] == "unsupported_token_type"
    stranger = new_account(sandbox)
    foreign = revoke(http, sandbox, stranger, tokens["refresh_token"])
    assert foreign.status_code == 400
    bad_client = http.post(f"{sandbox.auth_url}/revoke",
                           data={"client_id": account.client_id, "client_secret": "errado", "token": "x"})
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    # Nothing above revoked the session: the refresh token still works.
    assert token(http, sandbox, **refresh_form(account, tokens["refresh_token"])).status_code == 200
