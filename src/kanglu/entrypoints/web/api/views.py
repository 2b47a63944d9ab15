"""The JSON API under /api/v1: Bearer API keys, the routes and shapes of the external contract.

Errors are JSON everywhere (see errors.py): 401 without a valid key, 404 for what the key's
merchant cannot see (another merchant's objects included: never 403), 422 with
`{"error": "invalid_input", "message": …, "errors": {field: message}}` for bad input.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request

from kanglu.application.commands import (
    BeginConnectErpCommand,
    DisconnectErpCommand,
    MapShippingServiceCommand,
    RemoveCarrierMappingCommand,
    RequestSyncCommand,
    RetryImportFailureCommand,
    SaveErpCredentialsCommand,
    SaveNotificationSettingsCommand,
    UpdateStatusMappingCommand,
)
from kanglu.application.errors import (
    ApplicationError,
    InvalidInput,
    NotFound,
    ReauthorizationRequired,
    TransientFailure,
)
from kanglu.application.use_cases.merchant_sync import SyncTooSoon
from kanglu.application.use_cases.retry_import_failure import CannotRetry
from kanglu.application.use_cases.create_merchant import hash_api_key
from kanglu.domain.secrets import Secret
from kanglu.entrypoints.web.api import openapi
from kanglu.entrypoints.web.api.bodies import (
    SHIPPING_SERVICE_MAX,
    WEBHOOK_URL_MAX,
    BodyError,
    CarrierMappingsBody,
    CredentialsBody,
    MappingsBody,
    NotificationsBody,
    allowed_values,
    check_credentials,
    structure,
    valid_webhook_url,
)
from kanglu.entrypoints.web.api.resources import (
    AuthorizeOut,
    CarrierMappingOut,
    CarrierMappingsOut,
    NotificationsOut,
    RetryOut,
    SyncOut,
    customer_out,
    event_out,
    failure_out,
    integration_out,
    mappings_out,
    order_out,
    page_out,
    to_json,
)
from kanglu.domain.carriers import NOT_TRACKED
from kanglu.domain.shipping import shipping_key_of
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.formatting import sentence
from kanglu.entrypoints.web.params import MAX_ID, parse_list_params

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
DEFAULT_PER_PAGE = 20
MAX_KEY_LENGTH = 200

bp = Blueprint("api", __name__, url_prefix=PREFIX)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field_errors = field_errors


def error_response(status: int, error: str, message: str, field_errors: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if field_errors is not None:
        body["errors"] = field_errors
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kanglu"'
    return response


def invalid(field_errors: dict[str, str]) -> ApiError:
    return ApiError(422, "invalid_input", "Dados inválidos.", field_errors)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.error, exc.message, exc.field_errors)


@bp.before_request
def _authenticate() -> Response | None:
    if request.endpoint == "api.openapi_document":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    merchant = None
    if scheme.lower() == "bearer" and key and len(key) <= MAX_KEY_LENGTH:
        merchant = deps().merchants.by_api_key_hash(hash_api_key(key))
    if merchant is None or merchant.id is None:
        return error_response(
            401, "unauthorized", "Chave da API ausente ou inválida: envie o cabeçalho Authorization: Bearer <chave>."
        )
    g.api_merchant_id = merchant.id
    return None


def _merchant_id() -> int:
    merchant_id: int = g.api_merchant_id
    return merchant_id


def _json_body() -> Any:
    """Whatever the Content-Type says: a client that forgot the header still means JSON."""
    try:
        return json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past Python's stack
        raise invalid({"body": "envie um objeto JSON válido"}) from None


def _ok(resource: Any, status: int = 200) -> Response:
    response = jsonify(to_json(resource))
    response.status_code = status
    return response


# -- the document -----------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document() -> Response:
    d = deps()
    return jsonify(openapi.document(auth_host=openapi.auth_host_of(d.settings.tiny_auth_url)))


# -- the Tiny integration -------------------------------------------------------------------


def _integration() -> Response:
    d = deps()
    summary = d.merchants.connection_summary(_merchant_id())
    connection = summary.connection
    next_sync = d.sync.next_sync_at(connection.id) if connection is not None and connection.id is not None else None
    return _ok(integration_out(connection, d.settings.redirect_uri, next_sync))


@bp.get("/integrations/tiny")
def get_integration() -> Response:
    return _integration()


@bp.put("/integrations/tiny")
def put_integration() -> Response:
    d = deps()
    try:
        body = structure(_json_body(), CredentialsBody)
        check_credentials(body, openapi.auth_host_of(d.settings.tiny_auth_url))
    except BodyError as exc:
        raise invalid(exc.field_errors) from None
    command = SaveErpCredentialsCommand(
        merchant_id=_merchant_id(),
        client_id=body.client_id,
        client_secret=Secret(body.client_secret) if body.client_secret is not None else None,
        invite_link=body.invite_link,
    )
    try:
        d.use_cases.save_credentials()(command)
    except InvalidInput as exc:
        raise invalid(exc.field_errors) from None
    return _integration()


@bp.delete("/integrations/tiny")
def delete_integration() -> Response:
    try:
        deps().use_cases.disconnect()(DisconnectErpCommand(_merchant_id()))
    except NotFound:
        pass  # nothing to disconnect: the answer shows `not_configured`
    return _integration()


@bp.post("/integrations/tiny/authorize")
def authorize() -> Response:
    try:
        url = deps().use_cases.connect_erp().begin(BeginConnectErpCommand(_merchant_id()))
    except ApplicationError as exc:
        raise ApiError(409, "conflict", exc.message) from None
    return _ok(AuthorizeOut(url))


@bp.get("/integrations/tiny/status-mappings")
def get_status_mappings() -> Response:
    state = deps().status_mapping(_merchant_id())
    return _ok(mappings_out(state.mapping, state.import_point_of_sale))


@bp.put("/integrations/tiny/status-mappings")
def put_status_mappings() -> Response:
    try:
        body = structure(_json_body(), MappingsBody)
    except BodyError as exc:
        raise invalid(exc.field_errors) from None
    # A situação listed twice: the last one wins, as when a form field repeats.
    actions = {int(m.situacao): m.action.value for m in body.mappings}
    try:
        deps().use_cases.update_status_mapping()(
            UpdateStatusMappingCommand(_merchant_id(), actions, body.import_point_of_sale))
    except NotFound as exc:
        raise ApiError(409, "conflict", exc.message) from None
    except InvalidInput as exc:
        raise invalid(exc.field_errors) from None
    state = deps().status_mapping(_merchant_id())
    return _ok(mappings_out(state.mapping, state.import_point_of_sale))


# -- orders and customers -------------------------------------------------------------------


ORDER_PARAMS = ("situacao", "tracking_status", "carrier", "updated_since", "q", "page", "per_page")
CUSTOMER_PARAMS = ("q", "page", "per_page")
PAGE_PARAMS = ("page", "per_page")


def known_params(known: tuple[str, ...]) -> None:
    """A parameter the route does not know is refused, never ignored: `?carrer=correios`
    silently answering every carrier is worse than an error."""
    unknown = sorted(set(request.args) - set(known))
    if unknown:
        listed = ", ".join(unknown)
        raise ApiError(
            400, "unknown_parameter",
            f"Parâmetro desconhecido: {listed}. Esta rota aceita: {', '.join(known)}.",
            {name: f"parâmetro desconhecido; aceitos: {', '.join(known)}" for name in unknown},
        )


def _list_params(known: tuple[str, ...]) -> Any:
    known_params(known)
    params, errors = parse_list_params(
        request.args, per_page=DEFAULT_PER_PAGE, carriers=deps().carriers, blank_is_absent=False
    )
    if errors:
        raise invalid(errors)
    return params


@bp.get("/orders")
def list_orders() -> Response:
    d = deps()
    params = _list_params(ORDER_PARAMS)
    page = d.orders.list_orders(_merchant_id(), params.order_filters(), params.page_request)
    return _ok(page_out(page, lambda view: order_out(view, d.carriers)))


@bp.get("/orders/<int:id>")
def get_order(id: int) -> Response:  # noqa: A002 - the name the document gives the parameter
    d = deps()
    view = d.orders.get_order(_merchant_id(), id) if 1 <= id <= MAX_ID else None
    if view is None:
        abort(404)
    return _ok(order_out(view, d.carriers))


@bp.get("/customers")
def list_customers() -> Response:
    params = _list_params(CUSTOMER_PARAMS)
    page = deps().customers.list_customers(_merchant_id(), params.q, params.page_request)
    return _ok(page_out(page, lambda view: customer_out(view.customer)))


# -- import failures ------------------------------------------------------------------------


@bp.get("/import-failures")
def list_import_failures() -> Response:
    args = {k: v for k, v in request.args.items() if k in ("page", "per_page")}
    params, errors = parse_list_params(args, per_page=DEFAULT_PER_PAGE, blank_is_absent=False)
    if errors:
        raise invalid(errors)
    page = deps().orders.import_failures(_merchant_id(), params.page_request)
    return _ok(page_out(page, failure_out))


@bp.post("/import-failures/<int:id>/retry")
def retry_import_failure(id: int) -> Response:  # noqa: A002 - the name the document gives the parameter
    """Fetch the order again from Tiny now; 202 with what came of it."""
    if not 1 <= id <= MAX_ID:
        abort(404)
    try:
        result = deps().use_cases.retry_import_failure()(RetryImportFailureCommand(_merchant_id(), id))
    except NotFound:
        abort(404)
    except (CannotRetry, ReauthorizationRequired) as exc:
        raise ApiError(409, "conflict", exc.message) from None
    except TransientFailure:
        raise ApiError(503, "erp_unavailable", "O Tiny não respondeu agora: tente de novo em instantes.") from None
    return _ok(RetryOut(id, result.outcome.value, result.reason), 202)


# -- the merchant's sync: sync now, history, alerts, carrier mappings ------------------------


@bp.post("/integrations/tiny/sync")
def request_sync() -> Response:
    """202 with the poll's due time. Within a minute of the last one: 429, nothing scheduled,
    with the instant the next one is allowed (and Retry-After)."""
    d = deps()
    try:
        due = d.use_cases.request_sync()(RequestSyncCommand(_merchant_id()))
    except SyncTooSoon as exc:
        response = jsonify({
            "error": "too_many_requests",
            "message": "Aguarde um minuto entre duas sincronizações manuais.",
            "next_allowed_at": to_json(exc.next_allowed_at),
            "next_sync_at": to_json(exc.next_sync_at),
        })
        response.status_code = 429
        wait = max(1, math.ceil((exc.next_allowed_at - d.clock.now()).total_seconds()))
        response.headers["Retry-After"] = str(wait)
        return response
    except ApplicationError as exc:
        raise ApiError(409, "conflict", sentence(exc.message)) from None
    return _ok(SyncOut(due), 202)


@bp.get("/integrations/tiny/events")
def list_events() -> Response:
    known_params(PAGE_PARAMS)
    params, errors = parse_list_params(request.args, per_page=DEFAULT_PER_PAGE, blank_is_absent=False)
    if errors:
        raise invalid(errors)
    page = deps().sync.events(_merchant_id(), params.page_request)
    return _ok(page_out(page, event_out))


def _notifications(new_secret: str | None = None) -> Response:
    settings = deps().sync.notifications(_merchant_id())
    return _ok(NotificationsOut(settings.email, settings.webhook_url, new_secret))


@bp.get("/notifications")
def get_notifications() -> Response:
    return _notifications()


@bp.put("/notifications")
def put_notifications() -> Response:
    try:
        body = structure(_json_body(), NotificationsBody)
    except BodyError as exc:
        raise invalid(exc.field_errors) from None
    url = body.webhook_url.strip() if body.webhook_url is not None else None
    if url is not None and (len(url) > WEBHOOK_URL_MAX or not valid_webhook_url(url)):
        raise invalid({"webhook_url": "use um endereço https:// completo, como https://loja.com.br/kanglu"})
    try:
        saved = deps().use_cases.save_notifications()(SaveNotificationSettingsCommand(_merchant_id(), body.email, url or None))
    except InvalidInput as exc:
        raise invalid(exc.field_errors) from None
    return _notifications(saved.new_secret)


def _carrier_mappings() -> Response:
    views = deps().sync.carrier_mappings(_merchant_id())
    return _ok(CarrierMappingsOut([CarrierMappingOut(v.id, v.label, v.carrier_code) for v in views]))


@bp.get("/carrier-mappings")
def get_carrier_mappings() -> Response:
    return _carrier_mappings()


@bp.put("/carrier-mappings")
def put_carrier_mappings() -> Response:
    """Each listed shipping service gets its carrier (or `none`); the others stay as they are."""
    d = deps()
    try:
        body = structure(_json_body(), CarrierMappingsBody)
    except BodyError as exc:
        raise invalid(exc.field_errors) from None
    errors: dict[str, str] = {}
    codes = [c.code for c in d.carriers] + [NOT_TRACKED.code]
    for i, m in enumerate(body.mappings):
        if not shipping_key_of(m.shipping_service) or len(m.shipping_service) > SHIPPING_SERVICE_MAX:
            errors[f"mappings[{i}].shipping_service"] = "informe o nome da forma de envio, como o Tiny mostra"
        if d.carriers.get(m.carrier) is None:
            errors[f"mappings[{i}].carrier"] = "transportadora desconhecida: " + allowed_values(codes)
    if errors:
        raise invalid(errors)
    for m in body.mappings:
        command = MapShippingServiceCommand(_merchant_id(), shipping_key_of(m.shipping_service) or "", m.carrier)
        try:
            d.use_cases.map_shipping_service()(command)
        except NotFound as exc:
            raise ApiError(409, "conflict", sentence(exc.message)) from None
        except InvalidInput as exc:
            raise invalid(exc.field_errors) from None
    return _carrier_mappings()


@bp.delete("/carrier-mappings/<id>")
def delete_carrier_mapping(id: str) -> Response:  # noqa: A002 - the name the document gives the parameter
    d = deps()
    found = next((v for v in d.sync.carrier_mappings(_merchant_id()) if v.id == id), None)
    if found is None:
        abort(404)
    try:
        d.use_cases.remove_carrier_mapping()(RemoveCarrierMappingCommand(_merchant_id(), found.shipping_key))
    except NotFound:
        abort(404)
    return _carrier_mappings()
