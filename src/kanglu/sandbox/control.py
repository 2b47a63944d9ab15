"""The control API under /_sandbox/: lets tests, benchmarks and the demo play life in Tiny.

Never part of Tiny's API; documented in this package's README.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from kanglu.sandbox import payloads
from kanglu.sandbox.accounts import Account, AccountSettings, SandboxState, counters_json
from kanglu.sandbox.activity import Activity
from kanglu.sandbox.model import Order
from kanglu.sandbox.oauth import AuthorizeError, OAuthServer
from kanglu.sandbox.tiny_api import ORDER_SITUACOES

PREFIX = "/_sandbox"
_CREATE_FIELDS = {"orders", "seed", "account_id", "client_id", "client_secret", "malformed_rate", "alphanumeric_cnpj",
                  "creation_with_time", "faults", "token_faults", "count", "settings", "permissions"}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json")


def order_truth(account: Account, order: Order) -> dict[str, Any]:
    """Everything a test needs to know about an order to predict what Kanglu imports."""
    invoice = order.invoice
    dataset = account.dataset
    return {
        "id": order.id,
        "numeroPedido": order.numero,
        "situacao": order.situacao,
        "dataCriacao": payloads.datetime_text(order.created),
        "dataAtualizacao": payloads.datetime_text(order.updated),
        "updated_epoch": order.updated,
        "malformed": None if order.malformed is None else order.malformed.value,
        "codigoRastreamento": order.tracking_code,
        "formaEnvio": None if order.forma is None else {"id": order.forma.id, "nome": order.forma.nome,
                                                        "tipo": order.forma.tipo},
        "formaFrete": None if order.frete is None else {"id": order.frete.id, "nome": order.frete.nome},
        "nota": None if invoice is None else {
            "id": invoice.id, "numero": f"{invoice.numero:06d}", "serie": dataset.serie_for(invoice),
            "modelo": invoice.model, "situacao": invoice.situacao, "chaveAcesso": invoice.chave,
            "codigoRastreamento": invoice.tracking_code,
        },
        "pedido": payloads.pedido_listing(dataset, order),
        "origemPedido": order.origem,
        "enderecoEntrega": payloads.entrega(dataset, order),
    }


class ControlApi:
    def __init__(self, state: SandboxState, oauth: OAuthServer) -> None:
        self.state = state
        self.oauth = oauth
        self.activity = Activity(state)
        a = f"{PREFIX}/accounts/<account>"
        o = f"{a}/orders/<int:order_id>"
        self.url_map = Map([
            Rule(f"{PREFIX}/health", endpoint="health", methods=["GET"]),
            Rule(f"{PREFIX}/accounts", endpoint="accounts", methods=["GET"]),
            Rule(f"{PREFIX}/accounts", endpoint="create_account", methods=["POST"]),
            Rule(a, endpoint="account", methods=["GET"]),
            Rule(a, endpoint="update_account", methods=["PATCH"]),
            Rule(f"{a}/revoke", endpoint="revoke", methods=["POST"]),
            Rule(f"{a}/tokens", endpoint="mint_tokens", methods=["POST"]),
            Rule(f"{a}/expire", endpoint="expire_tokens", methods=["POST"]),
            Rule(f"{a}/oauth", endpoint="oauth_state", methods=["GET"]),
            Rule(f"{a}/oauth/check", endpoint="check_refresh_token", methods=["POST"]),
            Rule(f"{a}/orders", endpoint="orders", methods=["GET"]),
            Rule(f"{a}/orders", endpoint="add_orders", methods=["POST"]),
            Rule(o, endpoint="order", methods=["GET"]),
            Rule(f"{o}/situacao", endpoint="set_situacao", methods=["PUT"]),
            Rule(f"{o}/tracking", endpoint="set_tracking", methods=["PUT"]),
            Rule(f"{o}/invoice", endpoint="issue_invoice", methods=["POST"]),
            Rule(f"{o}/touch", endpoint="touch", methods=["POST"]),
            Rule(f"{a}/faults", endpoint="account_faults", methods=["GET", "PATCH"]),
            Rule(f"{a}/permissions", endpoint="permissions", methods=["GET", "PATCH"]),
            Rule(f"{a}/counters", endpoint="account_counters", methods=["GET", "DELETE"]),
            Rule(f"{PREFIX}/faults", endpoint="all_faults", methods=["GET", "PATCH"]),
            Rule(f"{PREFIX}/counters", endpoint="counters", methods=["GET", "DELETE"]),
            Rule(f"{PREFIX}/consent", endpoint="consent", methods=["POST"]),
            Rule(f"{PREFIX}/clock", endpoint="clock", methods=["GET", "POST"]),
            Rule(f"{PREFIX}/activity/tick", endpoint="tick", methods=["POST"]),
        ], strict_slashes=False)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except NotFound:
            return _json(404, {"error": "no such control endpoint"})
        except MethodNotAllowed:
            return _json(405, {"error": "method not allowed"})
        handler: Callable[..., Any] = getattr(self, f"on_{endpoint}")
        try:
            if "account" in values:  # a fresh dict: werkzeug's match result is not ours to change
                values = {**values, "account": self._account(values["account"])}
            result = handler(request, **values)
        except ControlError as exc:
            return _json(exc.status, {"error": exc.message})
        except (ValueError, TypeError) as exc:  # int(None), float("x"): a malformed request
            return _json(400, {"error": str(exc)})
        if isinstance(result, Response):
            return result
        status, body = result if isinstance(result, tuple) else (200, result)
        return _json(status, body)

    # ---- helpers --------------------------------------------------------------------------------
    def _account(self, key: str) -> Account:
        account = self.state.account(key)
        if account is None:
            raise ControlError(404, f"no account {key!r}")
        return account

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        if not request.get_data():
            return {}
        try:
            body = json.loads(request.get_data())
        except ValueError:
            raise ControlError(400, "the body must be JSON") from None
        if not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        return body

    @staticmethod
    def _order(account: Account, order_id: int) -> Order:
        order = account.dataset.orders_by_id.get(order_id)
        if order is None:
            raise ControlError(404, f"no order {order_id} in account {account.id}")
        return order

    def _describe(self, account: Account) -> dict[str, Any]:
        with account.lock:
            return {
                **self.state.credentials(account),
                "seed": account.seed,
                "orders": len(account.dataset.orders),
                "invoices": len(account.dataset.invoices),
                "info": payloads.info(account.dataset.company),
                "settings": account.settings.as_json(),
                "permissions": dict(account.permissions),
                "faults": {scope: f.as_json() for scope, f in account.faults.items()},
            }

    # ---- accounts ---------------------------------------------------------------------------------
    def on_health(self, request: Request) -> dict[str, Any]:
        return {"ok": True, "accounts": len(self.state.accounts)}

    def on_accounts(self, request: Request) -> dict[str, Any]:
        return {"accounts": [
            {"account_id": a.id, "client_id": a.client_id, "account_name": a.name, "orders": a.dataset.order_count}
            for a in self.state.all_accounts()
        ]}

    def on_create_account(self, request: Request) -> tuple[int, dict[str, Any]]:
        body = self._body(request)
        settings = dict(body.get("settings") or {})
        for key in list(body):
            if key in AccountSettings.FIELDS or key == "plan":
                settings[key] = body.pop(key)
            elif key not in _CREATE_FIELDS:
                raise ControlError(400, f"unknown field: {key}")
        count = int(body.get("count", 1))
        orders = int(body.get("orders", 100))
        if not 1 <= count <= 100_000 or not 0 <= orders <= 1_000_000:
            raise ControlError(400, "count must be 1..100000 and orders 0..1000000")
        if count > 1 and any(body.get(k) for k in ("account_id", "client_id", "client_secret")):
            raise ControlError(400, "account_id, client_id and client_secret name one account: use count 1")
        created = []
        first_seed = body.get("seed")
        for n in range(count):
            account = self.state.create_account(
                orders=orders,
                seed=None if first_seed is None else int(first_seed) + n,
                account_id=body.get("account_id"),
                client_id=body.get("client_id"),
                client_secret=body.get("client_secret"),
                malformed_rate=float(body.get("malformed_rate", 0.0)),
                alphanumeric_cnpj=body.get("alphanumeric_cnpj"),
                creation_with_time=body.get("creation_with_time"),
                settings=settings,
                faults=body.get("faults"),
                token_faults=body.get("token_faults"),
                permissions=body.get("permissions"),
            )
            created.append(self.state.credentials(account))
        return 201, created[0] if count == 1 else {"accounts": created}

    def on_account(self, request: Request, account: Account) -> dict[str, Any]:
        return self._describe(account)

    def on_update_account(self, request: Request, account: Account) -> dict[str, Any]:
        with account.lock:
            account.settings.update(self._body(request))
        account.apply_limits()
        return self._describe(account)

    def on_revoke(self, request: Request, account: Account) -> dict[str, Any]:
        self.oauth.revoke(account)
        return {"revoked": True, "account_id": account.id}

    def on_mint_tokens(self, request: Request, account: Account) -> tuple[int, dict[str, object]]:
        """Tokens without the browser dance, for benchmarks that connect thousands of accounts."""
        return 201, self.oauth.issue(account)

    def on_expire_tokens(self, request: Request, account: Account) -> dict[str, Any]:
        which = self._body(request).get("tokens", "access")
        kinds = {"access": {"access"}, "refresh": {"refresh"}, "all": {"access", "refresh"}}.get(which)
        if kinds is None:
            raise ControlError(400, "tokens must be access, refresh or all")
        return {"expired": self.oauth.expire(account, frozenset(kinds))}

    def on_oauth_state(self, request: Request, account: Account) -> dict[str, Any]:
        """Live tokens and spent-refresh-token reuses: a client that never loses a rotated
        refresh token keeps `spent_refresh_token_uses` at 0."""
        return self.oauth.token_state(account)

    def on_check_refresh_token(self, request: Request, account: Account) -> dict[str, Any]:
        """Whether a refresh token (the one a client stored) is the live one, without spending it."""
        text = self._body(request).get("refresh_token")
        if not isinstance(text, str):
            raise ControlError(400, "send refresh_token")
        return {"live": self.oauth.is_live_refresh_token(account, text)}

    # ---- orders --------------------------------------------------------------------------------------
    def on_orders(self, request: Request, account: Account) -> dict[str, Any]:
        situacoes = {int(s) for s in request.args.get("situacao", "").split(",") if s.strip()}
        only_malformed = request.args.get("malformed") in ("1", "true")
        offset = request.args.get("offset", 0, type=int) or 0
        limit = request.args.get("limit", None, type=int)
        with account.lock:
            matching = [
                o for o in account.dataset.orders
                if (not situacoes or o.situacao in situacoes) and (not only_malformed or o.malformed is not None)
            ]
            page = matching[offset:] if limit is None else matching[offset:offset + limit]
            orders = [order_truth(account, o) for o in page]
        return {"account_id": account.id, "total": len(matching), "orders": orders}

    def on_add_orders(self, request: Request, account: Account) -> tuple[int, dict[str, Any]]:
        body = self._body(request)
        count = int(body.get("count", 1))
        situacao = body.get("situacao")
        if not 1 <= count <= 100_000:
            raise ControlError(400, "count must be 1..100000")
        if situacao is not None and situacao not in ORDER_SITUACOES:
            raise ControlError(400, f"situacao must be one of {ORDER_SITUACOES}")
        with account.lock:
            added = account.dataset.add_orders(count, self.state.clock.now(), situacao)
            return 201, {"orders": [order_truth(account, o) for o in added]}

    def on_order(self, request: Request, account: Account, order_id: int) -> dict[str, Any]:
        with account.lock:
            order = self._order(account, order_id)
            truth = order_truth(account, order)
            truth["detalhe"] = payloads.pedido_detail(account.dataset, order)
            return truth

    def on_set_situacao(self, request: Request, account: Account, order_id: int) -> dict[str, Any]:
        situacao = self._body(request).get("situacao")
        if situacao not in ORDER_SITUACOES:
            raise ControlError(400, f"situacao must be one of {ORDER_SITUACOES}")
        with account.lock:
            order = self._order(account, order_id)
            account.dataset.set_situacao(order, situacao, self.state.clock.now())
            return order_truth(account, order)

    def on_set_tracking(self, request: Request, account: Account, order_id: int) -> dict[str, Any]:
        body = self._body(request)
        target = body.get("target", "order")
        if target not in ("order", "invoice", "both"):
            raise ControlError(400, "target must be order, invoice or both")
        with account.lock:
            order = self._order(account, order_id)
            if "codigo" in body:
                code = body["codigo"] or None
                if code is not None and not isinstance(code, str):
                    raise ControlError(400, "codigo must be a string or null")
            else:
                code = account.dataset.new_tracking_code(order)
                if code is None:
                    raise ControlError(409, "this order's forma de envio has no tracking codes: send codigo")
            if target != "order" and order.invoice is None:
                raise ControlError(409, "the order has no invoice")
            account.dataset.set_tracking(order, code, target in ("order", "both"), target in ("invoice", "both"),
                                         self.state.clock.now())
            return order_truth(account, order)

    def on_issue_invoice(self, request: Request, account: Account, order_id: int) -> tuple[int, dict[str, Any]]:
        situacao = self._body(request).get("situacao", 6)
        if situacao not in range(1, 11):
            raise ControlError(400, "situacao of an invoice must be 1..10")
        with account.lock:
            order = self._order(account, order_id)
            if order.invoice is not None and order.invoice.situacao not in (3, 5):
                raise ControlError(409, "the order already has an invoice")
            account.dataset.issue_invoice(order, self.state.clock.now(), situacao)
            return 201, order_truth(account, order)

    def on_touch(self, request: Request, account: Account, order_id: int) -> dict[str, Any]:
        with account.lock:
            order = self._order(account, order_id)
            account.dataset.touch(order, self.state.clock.now())
            return order_truth(account, order)

    # ---- faults, counters, consent, clock -----------------------------------------------------------
    @staticmethod
    def _scope(request: Request) -> str:
        scope = request.args.get("scope", "api")
        if scope not in ("api", "token"):
            raise ControlError(400, "scope must be api or token")
        return scope

    def on_account_faults(self, request: Request, account: Account) -> dict[str, Any]:
        scope = self._scope(request)
        with account.lock:
            if request.method == "PATCH":
                account.faults[scope].update(self._body(request))
            return {"scope": scope, "faults": account.faults[scope].as_json()}

    def on_all_faults(self, request: Request) -> dict[str, Any]:
        scope = self._scope(request)
        if request.method == "PATCH":
            changes = self._body(request)
            self.state.default_faults[scope].update(changes)
            for account in self.state.all_accounts():
                with account.lock:
                    account.faults[scope].update(changes)
        return {"scope": scope, "defaults": self.state.default_faults[scope].as_json()}

    def on_permissions(self, request: Request, account: Account) -> dict[str, Any]:
        """The application's read permissions; PATCH {"notas_fiscais": false} unticks one in Tiny,
        and that module's calls answer 403 until it is ticked again."""
        if request.method == "PATCH":
            account.set_permissions(self._body(request))
        with account.lock:
            return {"account_id": account.id, "permissions": dict(account.permissions)}

    def on_account_counters(self, request: Request, account: Account) -> dict[str, Any]:
        if request.method == "DELETE":
            account.counters.reset()
        return counters_json(account.counters.snapshot())

    def on_counters(self, request: Request) -> dict[str, Any]:
        if request.method == "DELETE":
            self.state.reset_counters()
        body: dict[str, Any] = {"global": counters_json(self.state.global_counts())}
        if request.args.get("accounts") in ("1", "true"):
            body["accounts"] = {a.id: counters_json(a.counters.snapshot()) for a in self.state.all_accounts()}
        return body

    def on_consent(self, request: Request) -> dict[str, Any] | Response:
        """Answer the consent page for an authorize URL, as a user's click would."""
        body = self._body(request)
        url = body.get("authorize_url")
        decision = body.get("decision", "accept")
        if not isinstance(url, str) or decision not in ("accept", "deny"):
            raise ControlError(400, "send authorize_url and decision (accept or deny)")
        params = dict(parse_qsl(urlsplit(url).query))
        try:
            auth = self.oauth.validate(params)
        except AuthorizeError as exc:
            return _json(400, {"error": exc.message, "location": exc.redirect})
        return {"location": self.oauth.conclude(auth, decision == "accept")}

    def on_clock(self, request: Request) -> dict[str, Any]:
        if request.method == "POST":
            seconds = self._body(request).get("advance", 0)
            if not isinstance(seconds, (int, float)) or seconds < 0:
                raise ControlError(400, "advance must be a non-negative number of seconds")
            self.state.clock.advance(seconds)
        now = self.state.clock.now()
        return {"now": now, "sao_paulo": payloads.datetime_text(now)}

    def on_tick(self, request: Request) -> dict[str, Any]:
        """Simulated activity on demand, for a test or a demo that will not wait for the timer."""
        ticks = self._body(request).get("ticks", 1)
        if not isinstance(ticks, int) or not 1 <= ticks <= 1000:
            raise ControlError(400, "ticks must be 1..1000")
        changes = [change.as_json() for _ in range(ticks) for change in self.activity.tick()]
        return {"changes": changes}
