"""The JSON API's blueprint and what every route shares: Bearer API keys, JSON errors, bodies.

Errors are JSON everywhere (see errors.py): 401 without a valid key, 404 for what the key's
merchant cannot see (another merchant's objects included: never 403), 422 with
`{"error": "invalid_input", "message": …, "errors": {field: message}}` for bad input.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from kanglu.application.use_cases.create_merchant import hash_api_key
from kanglu.entrypoints.web.api.resources import to_json
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.params import ListParams, parse_list_params

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


def merchant_id() -> int:
    merchant_id: int = g.api_merchant_id
    return merchant_id


def json_body() -> Any:
    """Whatever the Content-Type says: a client that forgot the header still means JSON."""
    try:
        return json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past Python's stack
        raise invalid({"body": "envie um objeto JSON válido"}) from None


def ok(resource: Any, status: int = 200) -> Response:
    response = jsonify(to_json(resource))
    response.status_code = status
    return response


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


def list_params(known: tuple[str, ...]) -> ListParams:
    known_params(known)
    params, errors = parse_list_params(
        request.args, per_page=DEFAULT_PER_PAGE, carriers=deps().carriers, blank_is_absent=False
    )
    if errors:
        raise invalid(errors)
    return params
