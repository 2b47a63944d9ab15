"""Tiny's OAuth 2.0 server (Keycloak) as the OAuthProvider port.

A definite refusal (`invalid_grant`, `invalid_client`, `unauthorized_client`, a 401) becomes
ReauthorizationRequired; anything that may pass (timeout, network, 5xx, 429) a TransientFailure.
A token request is retried only when it certainly never reached Tiny (a failed connect): a
code is single-use and a refresh rotates the refresh token, so repeating a request that Tiny
may have executed would spend the grant and log the merchant out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from kanglu.adapters.tiny.http import CallStats, Endpoint, parse_json
from kanglu.adapters.tiny.ratelimit import RateLimitHeaders
from kanglu.application.errors import RateLimited, ReauthorizationRequired, TransientFailure
from kanglu.application.ports import OAuthClient, TokenGrant
from kanglu.domain.secrets import Secret

log = logging.getLogger(__name__)

DEFAULT_AUTH_URL = "https://accounts.tiny.com.br/realms/tiny/protocol/openid-connect"
TOKEN = Endpoint("POST", "/token")
REVOKE = Endpoint("POST", "/revoke")
REVOKE_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
DOCUMENTED_ACCESS_LIFETIME = 14400  # Tiny documents 4 h when an answer omits expires_in

# Refusals that no retry will change, with what the merchant reads.
REFUSALS: Mapping[str, str] = {
    "invalid_grant": "o Tiny não aceita mais a autorização dada à Kanglu: ela foi revogada no Tiny, expirou ou já tinha sido usada",
    "invalid_client": "o Tiny recusou o Client ID ou o Client Secret do aplicativo",
    "unauthorized_client": "o aplicativo não tem permissão no Tiny para este tipo de autorização",
    "invalid_request": "o Tiny recusou o pedido de autorização por um parâmetro inválido, como a URL de redirecionamento",
    "unsupported_grant_type": "o Tiny não aceita este tipo de autorização para o aplicativo",
    "invalid_scope": "o Tiny recusou as permissões pedidas pelo aplicativo",
    "access_denied": "o acesso foi negado no Tiny",
}
# OAuth error codes that mean "try again later".
PASSING = frozenset({"temporarily_unavailable", "server_error", "slow_down"})
# The refusals of a refresh that end a connection: Tiny no longer accepts this refresh token,
# or this application. Any other answer to a refresh (another error code, a bare 401 from
# something in front of Keycloak) keeps the stored refresh token and is retried with backoff;
# should it never pass, the refresh token's own expiry ends the connection, with its reason.
DEFINITE_REFRESH_REFUSALS = frozenset({"invalid_grant", "invalid_client"})


class _NotSent(Exception):
    """The request certainly never reached Tiny: safe to send again."""


# A refresh that times out after Tiny carried it out loses the rotated refresh token, and the
# merchant has to authorise again: token calls get far longer to answer than API calls (they
# are rare, and a worker thread waiting on one costs nothing).
TOKEN_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class TinyOAuth:
    """Authorize URL, code exchange and refresh against `{auth_url}/auth` and `/token`."""

    def __init__(
        self,
        client: httpx.Client,
        auth_url: str = DEFAULT_AUTH_URL,
        *,
        stats: CallStats | None = None,
        connect_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        timeout: httpx.Timeout = TOKEN_TIMEOUT,
    ) -> None:
        self._client = client
        self._base = auth_url.rstrip("/")
        self._timeout = timeout
        self.stats = stats or CallStats()
        self._connect_attempts = connect_attempts
        self._sleep = sleep

    def authorize_url(self, client_id: str, redirect_uri: str, state: str, code_challenge: str) -> str:
        query = urlencode({
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "response_type": "code",
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        })
        return f"{self._base}/auth?{query}"

    def exchange_code(self, client: OAuthClient, code: str, redirect_uri: str, code_verifier: str) -> TokenGrant:
        return self._token({
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "client_secret": client.client_secret.value,
            "redirect_uri": redirect_uri,
            "code": code,
            "code_verifier": code_verifier,
        }, client.client_id, previous_refresh=None)

    def refresh(self, client: OAuthClient, refresh_token: Secret) -> TokenGrant:
        return self._token({
            "grant_type": "refresh_token",
            "client_id": client.client_id,
            "client_secret": client.client_secret.value,
            "refresh_token": refresh_token.value,
        }, client.client_id, previous_refresh=refresh_token)

    def revoke(self, client: OAuthClient, refresh_token: Secret) -> None:
        """RFC 7009 at Keycloak's `{auth_url}/revoke`: the refresh token, and with it its
        session, stop working at Tiny. Unlike a refresh, repeating it is harmless, so every
        failure that may pass is a TransientFailure for the caller to retry later."""
        context = {"client_id": client.client_id, "endpoint": "revoke"}
        form = {
            "client_id": client.client_id,
            "client_secret": client.client_secret.value,
            "token": refresh_token.value,
            "token_type_hint": "refresh_token",
        }
        started = time.monotonic()
        try:
            response = self._client.post(self._base + REVOKE.template, data=form,
                                         headers={"Accept": "application/json"}, timeout=REVOKE_TIMEOUT)
        except httpx.TransportError as exc:
            self.stats.record(str(REVOKE), "network", time.monotonic() - started)
            log.warning("tiny revocation endpoint unreachable", extra={**context, "error": type(exc).__name__})
            raise TransientFailure("não foi possível falar com o servidor de autorização do Tiny") from None
        self.stats.record(str(REVOKE), str(response.status_code), time.monotonic() - started)
        if response.status_code == 200:
            return
        body = _json_or_none(response)
        error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
        extra = {**context, "status": response.status_code, "error": error,
                 "request_id": response.headers.get("x-request-id")}
        if response.status_code in (400, 401) and (error in REFUSALS or error == "unsupported_token_type"
                                                  or response.status_code == 401):
            log.warning("tiny refused the revocation", extra=extra)
            code = error if error is not None and error in REFUSALS else "invalid_client"
            raise ReauthorizationRequired(REFUSALS[code], code)
        log.warning("tiny revocation endpoint failed", extra=extra)
        raise TransientFailure(f"o servidor de autorização do Tiny não revogou o token (HTTP {response.status_code})")

    def call_counts(self) -> dict[str, dict[str, int]]:
        return self.stats.snapshot()

    # -- the token endpoint --------------------------------------------------------------

    def _token(self, form: Mapping[str, str], client_id: str, previous_refresh: Secret | None) -> TokenGrant:
        grant_type = form["grant_type"]
        context = {"grant_type": grant_type, "client_id": client_id}
        retrying = Retrying(
            stop=stop_after_attempt(self._connect_attempts),
            wait=wait_random_exponential(multiplier=0.5, max=4),
            retry=retry_if_exception_type(_NotSent),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._post(form)
        except _NotSent:
            log.warning("tiny token endpoint unreachable", extra=context)
            raise TransientFailure("não foi possível falar com o servidor de autorização do Tiny") from None
        except httpx.TimeoutException:
            log.warning("tiny token endpoint timed out", extra=context)
            raise TransientFailure("o servidor de autorização do Tiny demorou demais para responder") from None
        except httpx.TransportError as exc:
            log.warning("tiny token endpoint failed", extra={**context, "error": type(exc).__name__})
            raise TransientFailure("a conexão com o servidor de autorização do Tiny falhou") from None
        return self._grant(response, context, previous_refresh)

    def _post(self, form: Mapping[str, str]) -> httpx.Response:
        started = time.monotonic()
        try:
            response = self._client.post(self._base + TOKEN.template, data=dict(form),
                                         headers={"Accept": "application/json"}, timeout=self._timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            self.stats.record(str(TOKEN), "network", time.monotonic() - started)
            raise _NotSent() from None
        except httpx.TimeoutException:
            self.stats.record(str(TOKEN), "timeout", time.monotonic() - started)
            raise
        except httpx.TransportError:
            self.stats.record(str(TOKEN), "network", time.monotonic() - started)
            raise
        self.stats.record(str(TOKEN), str(response.status_code), time.monotonic() - started)
        return response

    def _grant(self, response: httpx.Response, context: dict[str, str], previous_refresh: Secret | None) -> TokenGrant:
        status = response.status_code
        request_id = response.headers.get("x-request-id")
        body = _json_or_none(response)
        error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
        extra = {**context, "status": status, "request_id": request_id, "error": error}
        if status == 429:
            reset = RateLimitHeaders.from_headers(response.headers).reset
            log.warning("tiny token endpoint rate limited", extra=extra)
            raise RateLimited("o servidor de autorização do Tiny pediu para aguardar", retry_after=reset or 30.0,
                              request_id=request_id)
        if status >= 500 or (error in PASSING):
            log.warning("tiny token endpoint failed", extra=extra)
            raise TransientFailure(f"o servidor de autorização do Tiny está com instabilidade (HTTP {status})",
                                   request_id=request_id)
        if status >= 400:
            description = body.get("error_description") if isinstance(body, dict) else None
            if previous_refresh is not None and error not in DEFINITE_REFRESH_REFUSALS:
                log.error("tiny token endpoint refused a renewal without saying the token is dead", extra=extra)
                raise TransientFailure(
                    f"o servidor de autorização do Tiny recusou a renovação (HTTP {status}, {error or 'sem código'})",
                    request_id=request_id)
            if error in REFUSALS or (status == 401 and error is None):
                code = error or "invalid_client"
                log.warning("tiny refused the token request",
                            extra={**extra, "error_description": str(description)[:200] if description else None})
                raise ReauthorizationRequired(REFUSALS[code], code)
            log.error("tiny token endpoint answered an unexpected error", extra=extra)
            raise TransientFailure(f"resposta inesperada do servidor de autorização do Tiny (HTTP {status})",
                                   request_id=request_id)
        return self._parse_grant(body, extra, previous_refresh)

    @staticmethod
    def _parse_grant(body: object, extra: dict[str, object], previous_refresh: Secret | None) -> TokenGrant:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
            log.error("tiny token answer without an access token", extra=extra)
            raise TransientFailure("o servidor de autorização do Tiny enviou uma resposta sem token")
        refresh = body.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            if previous_refresh is None:
                log.error("tiny token answer without a refresh token", extra=extra)
                raise TransientFailure("o servidor de autorização do Tiny não enviou o token de renovação")
            refresh_secret = previous_refresh  # a server that does not rotate keeps the old one valid
        else:
            refresh_secret = Secret(refresh)
        return TokenGrant(
            access_token=Secret(body["access_token"]),
            refresh_token=refresh_secret,
            expires_in=_seconds(body.get("expires_in")) or DOCUMENTED_ACCESS_LIFETIME,
            refresh_expires_in=_seconds(body.get("refresh_expires_in")),
        )


def _json_or_none(response: httpx.Response) -> object:
    try:
        return parse_json(response.content)
    except ValueError:
        return None


def _seconds(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        seconds = int(str(value)) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds > 0 else None
