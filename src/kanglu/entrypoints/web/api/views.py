"""The JSON API under /api/v1: Bearer API keys, the routes and shapes of the external contract.

Errors are JSON everywhere (see errors.py): 401 without a valid key, 404 for what the key's
merchant cannot see (another merchant's objects included: never 403), 422 with
`{"error": "invalid_input", "message": …, "errors": {field: message}}` for bad input.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request

from kanglu.application.commands import BeginConnection, DisconnectErp, SaveErpCredentials, UpdateStatusMapping
from kanglu.application.errors import ApplicationError, InvalidInput, NotFound
from kanglu.application.use_cases.create_merchant import hash_api_key
from kanglu.domain.secrets import Secret
from kanglu.entrypoints.web.api import openapi
from kanglu.entrypoints.web.api.bodies import (
    BodyError,
    CredentialsBody,
    MappingsBody,
    check_credentials,
    structure,
)
from kanglu.entrypoints.web.api.resources import (
    AuthorizeOut,
    customer_out,
    integration_out,
    mappings_out,
    order_out,
    page_out,
    to_json,
)
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.params import MAX_ID, parse_list_params
from kanglu.entrypoints.web.reads import status_mapping_of

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
    return g.api_merchant_id  # type: ignore[no-any-return]


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
    return _ok(integration_out(summary.connection, d.settings.redirect_uri))


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
    command = SaveErpCredentials(
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
        deps().use_cases.disconnect()(DisconnectErp(_merchant_id()))
    except NotFound:
        pass  # nothing to disconnect: the answer shows `not_configured`
    return _integration()


@bp.post("/integrations/tiny/authorize")
def authorize() -> Response:
    try:
        url = deps().use_cases.begin_connect()(BeginConnection(_merchant_id()))
    except ApplicationError as exc:
        raise ApiError(409, "conflict", exc.message) from None
    return _ok(AuthorizeOut(url))


@bp.get("/integrations/tiny/status-mappings")
def get_status_mappings() -> Response:
    state = status_mapping_of(_merchant_id())
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
            UpdateStatusMapping(_merchant_id(), actions, body.import_point_of_sale))
    except NotFound as exc:
        raise ApiError(409, "conflict", exc.message) from None
    except InvalidInput as exc:
        raise invalid(exc.field_errors) from None
    state = status_mapping_of(_merchant_id())
    return _ok(mappings_out(state.mapping, state.import_point_of_sale))


# -- orders and customers -------------------------------------------------------------------


def _list_params(with_situacao: bool) -> Any:
    allowed = {"q", "page", "per_page"} | ({"situacao"} if with_situacao else set())
    args = {k: v for k, v in request.args.items() if k in allowed}
    params, errors = parse_list_params(args, per_page=DEFAULT_PER_PAGE, blank_is_absent=False)
    if errors:
        raise invalid(errors)
    return params


@bp.get("/orders")
def list_orders() -> Response:
    d = deps()
    params = _list_params(with_situacao=True)
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
    params = _list_params(with_situacao=False)
    page = deps().customers.list_customers(_merchant_id(), params.q, params.page_request)
    return _ok(page_out(page, lambda view: customer_out(view.customer)))
