"""The JSON API's sync of one merchant: sync now, the history, alerts and carrier mappings."""

from __future__ import annotations

import math

from flask import Response, abort, jsonify, request

from kanglu.application.commands import (
    MapShippingServiceCommand,
    RemoveCarrierMappingCommand,
    RequestSyncCommand,
    SaveNotificationSettingsCommand,
)
from kanglu.application.errors import ApplicationError, InvalidInput, NotFound
from kanglu.application.use_cases.merchant_sync import SyncTooSoon
from kanglu.domain.carriers import NOT_TRACKED
from kanglu.domain.shipping import shipping_key_of
from kanglu.entrypoints.web.api.bodies import (
    SHIPPING_SERVICE_MAX,
    WEBHOOK_URL_MAX,
    BodyError,
    CarrierMappingsBody,
    NotificationsBody,
    allowed_values,
    structure,
    valid_webhook_url,
)
from kanglu.entrypoints.web.api.common import (
    DEFAULT_PER_PAGE,
    PAGE_PARAMS,
    ApiError,
    bp,
    invalid,
    json_body,
    known_params,
    merchant_id,
    ok,
)
from kanglu.entrypoints.web.api.resources import (
    CarrierMappingOut,
    CarrierMappingsOut,
    NotificationsOut,
    SyncOut,
    event_out,
    page_out,
    to_json,
)
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.formatting import sentence
from kanglu.entrypoints.web.params import parse_list_params


@bp.post("/integrations/tiny/sync")
def request_sync() -> Response:
    """202 with the poll's due time. Within a minute of the last one: 429, nothing scheduled,
    with the instant the next one is allowed (and Retry-After)."""
    d = deps()
    try:
        due = d.use_cases.request_sync()(RequestSyncCommand(merchant_id()))
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
    return ok(SyncOut(due), 202)


@bp.get("/integrations/tiny/events")
def list_events() -> Response:
    known_params(PAGE_PARAMS)
    params, errors = parse_list_params(request.args, per_page=DEFAULT_PER_PAGE, blank_is_absent=False)
    if errors:
        raise invalid(errors)
    page = deps().sync.events(merchant_id(), params.page_request)
    return ok(page_out(page, event_out))


def _notifications(new_secret: str | None = None) -> Response:
    settings = deps().sync.notifications(merchant_id())
    return ok(NotificationsOut(settings.email, settings.webhook_url, new_secret))


@bp.get("/notifications")
def get_notifications() -> Response:
    return _notifications()


@bp.put("/notifications")
def put_notifications() -> Response:
    try:
        body = structure(json_body(), NotificationsBody)
    except BodyError as exc:
        raise invalid(exc.field_errors) from None
    url = body.webhook_url.strip() if body.webhook_url is not None else None
    if url is not None and (len(url) > WEBHOOK_URL_MAX or not valid_webhook_url(url)):
        raise invalid({"webhook_url": "use um endereço https:// completo, como https://loja.com.br/kanglu"})
    try:
        saved = deps().use_cases.save_notifications()(SaveNotificationSettingsCommand(merchant_id(), body.email, url or None))
    except InvalidInput as exc:
        raise invalid(exc.field_errors) from None
    return _notifications(saved.new_secret)


def _carrier_mappings() -> Response:
    views = deps().sync.carrier_mappings(merchant_id())
    return ok(CarrierMappingsOut([CarrierMappingOut(v.id, v.label, v.carrier_code) for v in views]))


@bp.get("/carrier-mappings")
def get_carrier_mappings() -> Response:
    return _carrier_mappings()


@bp.put("/carrier-mappings")
def put_carrier_mappings() -> Response:
    """Each listed shipping service gets its carrier (or `none`); the others stay as they are."""
    d = deps()
    try:
        body = structure(json_body(), CarrierMappingsBody)
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
        command = MapShippingServiceCommand(merchant_id(), shipping_key_of(m.shipping_service) or "", m.carrier)
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
    found = next((v for v in d.sync.carrier_mappings(merchant_id()) if v.id == id), None)
    if found is None:
        abort(404)
    try:
        d.use_cases.remove_carrier_mapping()(RemoveCarrierMappingCommand(merchant_id(), found.shipping_key))
    except NotFound:
        abort(404)
    return _carrier_mappings()
