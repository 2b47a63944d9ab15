"""The sandbox's WSGI application: Tiny's OAuth server, API v3 and pages, plus the control API."""

from __future__ import annotations

import json
import logging
import math
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import unquote_plus

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from kanglu.sandbox import pages, tiny_api
from kanglu.sandbox.accounts import Account, SandboxState
from kanglu.sandbox.control import ControlApi
from kanglu.sandbox.limits import Budget, decide
from kanglu.sandbox.oauth import AuthorizeError, OAuthError, OAuthServer

logger = logging.getLogger(__name__)

OIDC = "/realms/tiny/protocol/openid-connect"
API = "/public-api/v3"
CONSENT_ACTION = "/realms/tiny/login-actions/consent"

NOMINAL_RATE_LIMIT = 120  # what a forced 429 reports on an account whose own limit is off
# Counter name, path rule, and handler of each API v3 call the sandbox answers.
_API_ROUTES: tuple[tuple[str, str, Callable[..., tiny_api.Answer]], ...] = (
    ("GET /pedidos", "/pedidos", lambda a, r: tiny_api.list_pedidos(a, r.args)),
    ("GET /pedidos/{idPedido}", "/pedidos/<raw_id>", lambda a, r, raw_id: tiny_api.get_pedido(a, raw_id)),
    ("GET /notas", "/notas", lambda a, r: tiny_api.list_notas(a, r.args)),
    ("GET /notas/{idNota}", "/notas/<raw_id>", lambda a, r, raw_id: tiny_api.get_nota(a, raw_id)),
    ("GET /formas-envio", "/formas-envio", lambda a, r: tiny_api.list_formas_envio(a, r.args)),
    ("GET /formas-envio/{idFormaEnvio}", "/formas-envio/<raw_id>",
     lambda a, r, raw_id: tiny_api.get_forma_envio(a, raw_id)),
    ("GET /info", "/info", lambda a, r: tiny_api.get_info(a)),
)
_API_HANDLERS = {name: handler for name, _, handler in _API_ROUTES}
# The application permission (module) each call needs, by the path's first segment.
_MODULES = {"pedidos": "pedidos", "notas": "notas_fiscais", "formas-envio": "formas_envio", "info": "info_conta"}
_MODULE_NAMES = {"pedidos": "Pedidos", "notas_fiscais": "Notas Fiscais", "formas_envio": "Formas de Envio",
                 "info_conta": "Informações da Conta"}


def module_of(name: str) -> str:
    """`GET /notas/{idNota}` -> `notas_fiscais`."""
    return _MODULES[name.split(" ", 1)[1].strip("/").split("/", 1)[0]]


def forbidden(module: str) -> tuple[int, dict[str, Any]]:
    """Tiny's 403 for an application without the module's permission: an ErrorDTO."""
    return 403, {"mensagem": f"O aplicativo não tem permissão de acesso ao módulo {_MODULE_NAMES[module]}",
                 "detalhes": []}

_FIVE_XX_BODIES = {
    500: ("application/json", json.dumps({"mensagem": "Erro interno do servidor", "detalhes": []}).encode()),
    502: ("text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    503: ("text/html", b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"),
    504: ("text/html", b"<html><body><h1>504 Gateway Time-out</h1></body></html>"),
}


def json_response(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=list(headers),
                    content_type="application/json")


def html_response(status: int, body: str) -> Response:
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def _status_response(status: int) -> Response:
    if status == 429:
        return Response(b"", status=429)  # Tiny: empty body, no Retry-After
    content_type, body = _FIVE_XX_BODIES.get(status, ("application/json", b'{"mensagem": "Erro", "detalhes": []}'))
    return Response(body, status=status, content_type=content_type)


def _rate_headers(budget: Budget) -> list[tuple[str, str]]:
    return [("X-RateLimit-Limit", str(budget.limit)), ("X-RateLimit-Remaining", str(budget.remaining)),
            ("X-RateLimit-Reset", str(budget.reset))]


DROPPED = "X-Sandbox-Dropped"  # marks a response never sent, for the counters


def _drop_connection(request: Request) -> Response:
    """End the TCP connection with no answer (a reset, as a load balancer that lost its upstream
    does). The server's attempt to write the response then fails quietly (a dropped connection)."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response(b"", status=502, headers=[(DROPPED, "1")])  # the status is never sent


class SandboxApp:
    """WSGI callable. Every answer carries a fresh X-Request-Id."""

    def __init__(self, state: SandboxState, oauth: OAuthServer | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.state = state
        self.oauth = oauth or OAuthServer(state)
        self.control = ControlApi(state, self.oauth)
        self._sleep = sleep
        rules = [
            Rule("/", endpoint="index", methods=["GET"]),
            Rule("/resources/sandbox.css", endpoint="css", methods=["GET"]),
            Rule(f"{OIDC}/auth", endpoint="auth", methods=["GET"]),
            Rule(f"{OIDC}/token", endpoint="token", methods=["POST"]),
            Rule(f"{OIDC}/revoke", endpoint="revoke", methods=["POST"]),
            Rule(CONSENT_ACTION, endpoint="consent", methods=["POST"]),
            Rule("/realms/tiny/.well-known/openid-configuration", endpoint="discovery", methods=["GET"]),
            Rule("/convite/<invite_id>", endpoint="invite", methods=["GET"]),
        ]
        rules += [Rule(API + path, endpoint=f"api:{name}", methods=["GET"]) for name, path, _ in _API_ROUTES]
        self.url_map = Map(rules, strict_slashes=False)
        self._css = resources.files("kanglu.sandbox").joinpath("static/sandbox.css").read_bytes()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:
            logger.exception("sandbox failed to answer", extra={"path": request.path})
            response = _status_response(500)
        response.headers["X-Request-Id"] = str(uuid.uuid4())
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_sandbox"):
            return self.control.dispatch(request)
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except NotFound:
            if request.path.startswith(API):
                return json_response(404, {"mensagem": "Recurso não encontrado", "detalhes": []})
            return html_response(404, pages.not_found())
        except MethodNotAllowed as exc:
            return json_response(405, {"mensagem": "Método não permitido", "detalhes": []},
                                 [("Allow", ", ".join(exc.valid_methods or []))])
        except HTTPException as exc:  # redirects for slashes and the like
            return exc.get_response(request.environ)
        if endpoint.startswith("api:"):
            return self.api_call(request, endpoint[4:], values)
        return getattr(self, f"on_{endpoint}")(request, **values)

    # ---- API v3 ------------------------------------------------------------------------------
    def api_call(self, request: Request, name: str, values: Mapping[str, Any]) -> Response:
        account = self._bearer_account(request)
        if account is None:
            self.state.unattributed.add("api", name, "401")
            return json_response(401, {"mensagem": "Token de acesso inválido ou expirado", "detalhes": []},
                                 [("WWW-Authenticate", 'Bearer error="invalid_token"')])
        now = self.state.clock.now()
        body: Any = None
        with account.lock:
            verdict = decide(account.faults["api"], account.fault_rng, now, name)
            if verdict.status == 429:
                storm = account.faults["api"].storm_until - now
                reset = math.ceil(storm) if storm > 0 else account.limiter.peek(now).reset
                # A forced 429 plays Tiny's limiter, so it reports a limit even on an unlimited account.
                limit = account.limiter.per_minute or NOMINAL_RATE_LIMIT
                budget = Budget(False, limit, 0, max(1, reset))
                status: int | None = 429
            else:
                budget = account.limiter.take(now)
                status = 429 if not budget.allowed else verdict.status
            settings = account.settings
            hide = settings.headers_missing_rate > 0 and account.fault_rng.random() < settings.headers_missing_rate
            if status is None and not account.allows(module_of(name)):
                status, body = forbidden(module_of(name))
            if status is None:
                try:
                    status, body = _API_HANDLERS[name](account, request, **values)
                except tiny_api.Invalid as exc:
                    status, body = 400, exc.body()
        if verdict.delay:
            self._sleep(verdict.delay)  # outside the lock: slow answers must not serialise the account
        if verdict.reset:
            account.counters.add("api", name, "reset")
            return _drop_connection(request)
        account.counters.add("api", name, str(status))
        response = json_response(status, body) if body is not None else _status_response(status)
        if not hide and budget.limit:
            response.headers.extend(_rate_headers(budget))
        return response

    def _bearer_account(self, request: Request) -> Account | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.oauth.authenticate(token.strip())

    # ---- OAuth ---------------------------------------------------------------------------------
    def on_auth(self, request: Request) -> Response:
        try:
            auth = self.oauth.validate(request.args.to_dict())
        except AuthorizeError as exc:
            if exc.redirect:
                return Response(status=302, headers=[("Location", exc.redirect)])
            return html_response(400, pages.error(exc.message))
        return html_response(200, pages.consent(auth.account.settings.app_name, auth.account.name,
                                                self.oauth.ticket(auth), CONSENT_ACTION))

    def on_consent(self, request: Request) -> Response:
        try:
            location = self.oauth.decide(request.form.get("ticket", ""), request.form.get("decision") == "accept")
        except AuthorizeError as exc:
            return html_response(400, pages.error(exc.message))
        return Response(status=302, headers=[("Location", location)])

    def on_token(self, request: Request) -> Response:
        form = request.form.to_dict()
        grant = form.get("grant_type", "")
        account: Account | None = None
        try:
            account = self.oauth.client(form, self._basic(request))
            response = self._grant(request, account, grant, form)
        except OAuthError as exc:
            counters = account.counters if account is not None else self.state.unattributed
            counters.add("oauth", "token_errors", exc.error)
            response = self._token_answer(exc.status, exc.body())
        counters = account.counters if account is not None else self.state.unattributed
        outcome = "reset" if response.headers.get(DROPPED) else str(response.status_code)
        counters.add("oauth", f"token:{grant or '-'}", outcome)
        return response

    def on_revoke(self, request: Request) -> Response:
        """Keycloak's revocation endpoint: client authentication as at /token, then 200 with
        an empty body (the token was revoked, or was not valid anyway)."""
        form = request.form.to_dict()
        account: Account | None = None
        try:
            account = self.oauth.client(form, self._basic(request))
            self.oauth.revoke_token(account, form)
            response = Response(status=200, headers=[("Cache-Control", "no-store")])
        except OAuthError as exc:
            response = self._token_answer(exc.status, exc.body())
        counters = account.counters if account is not None else self.state.unattributed
        counters.add("oauth", "revoke", str(response.status_code))
        return response

    def _grant(self, request: Request, account: Account, grant: str, form: dict[str, str]) -> Response:
        if grant == "refresh_token":
            account.counters.add("oauth", "refresh_calls")
        with account.lock:
            verdict = decide(account.faults["token"], account.fault_rng, self.state.clock.now())
        if verdict.delay:
            self._sleep(verdict.delay)
        if verdict.reset:
            return _drop_connection(request)
        if verdict.status is not None:
            return _status_response(verdict.status)
        if verdict.invalid_grant:
            raise OAuthError(400, "invalid_grant", "Token is not active")
        if not grant:
            raise OAuthError(400, "invalid_request", "Missing form parameter: grant_type")
        if grant == "authorization_code":
            answer = self._token_answer(200, self.oauth.exchange_code(account, form))
        elif grant == "refresh_token":
            answer = self._token_answer(200, self.oauth.refresh(account, form))
        else:
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
        if verdict.late:
            self._sleep(verdict.late)  # carried out already: a refresh token rotated, its answer in flight
        return answer

    @staticmethod
    def _token_answer(status: int, body: dict[str, Any]) -> Response:
        return json_response(status, body, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])

    @staticmethod
    def _basic(request: Request) -> tuple[str, str] | None:
        auth = request.authorization
        if auth is None or auth.type != "basic" or auth.username is None:
            return None
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        return unquote_plus(auth.username), unquote_plus(auth.password or "")

    def on_discovery(self, request: Request) -> Response:
        base = self.state.base_url
        return json_response(200, {
            "issuer": f"{base}/realms/tiny",
            "authorization_endpoint": f"{base}{OIDC}/auth",
            "token_endpoint": f"{base}{OIDC}/token",
            "revocation_endpoint": f"{base}{OIDC}/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "offline_access"],
        })

    # ---- pages -----------------------------------------------------------------------------------
    def on_invite(self, request: Request, invite_id: str) -> Response:
        account = self.state.by_invite.get(invite_id)
        if account is None:
            return html_response(404, pages.not_found())
        return html_response(200, pages.invite(account.settings.app_name, account.name))

    def on_css(self, request: Request) -> Response:
        return Response(self._css, content_type="text/css; charset=utf-8",
                        headers=[("Cache-Control", "public, max-age=3600")])

    def on_index(self, request: Request) -> Response:
        return html_response(200, pages.index(len(self.state.accounts)))
