"""The JSON API's Tiny integration: its state, credentials, authorisation and status mappings;
and the OpenAPI document (the one route without a key)."""

from __future__ import annotations

from flask import Response, jsonify

from kanglu.application.commands import (
    BeginConnectErpCommand,
    DisconnectErpCommand,
    SaveErpCredentialsCommand,
    UpdateStatusMappingCommand,
)
from kanglu.application.errors import ApplicationError, InvalidInput, NotFound
from kanglu.domain.secrets import Secret
from kanglu.entrypoints.web.api import openapi
from kanglu.entrypoints.web.api.bodies import BodyError, CredentialsBody, MappingsBody, check_credentials, structure
from kanglu.entrypoints.web.api.common import ApiError, bp, invalid, json_body, merchant_id, ok
from kanglu.entrypoints.web.api.resources import AuthorizeOut, integration_out, mappings_out
from kanglu.entrypoints.web.deps import deps

# -- the document -----------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document() -> Response:
    d = deps()
    return jsonify(openapi.document(auth_host=openapi.auth_host_of(d.settings.tiny_auth_url)))


# -- the Tiny integration -------------------------------------------------------------------


def _integration() -> Response:
    d = deps()
    summary = d.merchants.connection_summary(merchant_id())
    connection = summary.connection
    next_sync = d.sync.next_sync_at(connection.id) if connection is not None and connection.id is not None else None
    return ok(integration_out(connection, d.settings.redirect_uri, next_sync))


@bp.get("/integrations/tiny")
def get_integration() -> Response:
    return _integration()


@bp.put("/integrations/tiny")
def put_integration() -> Response:
    d = deps()
    try:
        body = structure(json_body(), CredentialsBody)
        check_credentials(body, openapi.auth_host_of(d.settings.tiny_auth_url))
    except BodyError as exc:
        raise invalid(exc.field_errors) from None
    command = SaveErpCredentialsCommand(
        merchant_id=merchant_id(),
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
        deps().use_cases.disconnect()(DisconnectErpCommand(merchant_id()))
    except NotFound:
        pass  # nothing to disconnect: the answer shows `not_configured`
    return _integration()


@bp.post("/integrations/tiny/authorize")
def authorize() -> Response:
    try:
        url = deps().use_cases.connect_erp().begin(BeginConnectErpCommand(merchant_id()))
    except ApplicationError as exc:
        raise ApiError(409, "conflict", exc.message) from None
    return ok(AuthorizeOut(url))


@bp.get("/integrations/tiny/status-mappings")
def get_status_mappings() -> Response:
    state = deps().status_mapping(merchant_id())
    return ok(mappings_out(state.mapping, state.import_point_of_sale))


@bp.put("/integrations/tiny/status-mappings")
def put_status_mappings() -> Response:
    try:
        body = structure(json_body(), MappingsBody)
    except BodyError as exc:
        raise invalid(exc.field_errors) from None
    # A situação listed twice: the last one wins, as when a form field repeats.
    actions = {int(m.situacao): m.action.value for m in body.mappings}
    try:
        deps().use_cases.update_status_mapping()(
            UpdateStatusMappingCommand(merchant_id(), actions, body.import_point_of_sale))
    except NotFound as exc:
        raise ApiError(409, "conflict", exc.message) from None
    except InvalidInput as exc:
        raise invalid(exc.field_errors) from None
    state = deps().status_mapping(merchant_id())
    return ok(mappings_out(state.mapping, state.import_point_of_sale))
