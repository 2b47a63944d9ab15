"""Transportadoras: shipping services no rule identified, each mapped by hand to a carrier."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from kanglu.application.commands import MapShippingServiceCommand, RemoveCarrierMappingCommand
from kanglu.application.errors import InvalidInput, NotFound
from kanglu.domain.carriers import NOT_TRACKED
from kanglu.entrypoints.web.auth import login_required, merchant_id
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.formatting import plural, sentence

bp = Blueprint("carriers", __name__)


@bp.get("/carriers")
@login_required
def index() -> Any:
    d = deps()
    services = d.orders.unmatched_services(merchant_id())
    carriers = sorted(d.carriers.carriers, key=lambda c: c.name.casefold())
    # "Every shipping service was recognised" is only true once orders came in.
    has_orders = bool(services) or d.merchants.connection_summary(merchant_id()).orders > 0
    return render_template(
        "carriers.html",
        services=services,
        carriers=carriers,
        carrier_names={c.code: c.name for c in carriers} | {NOT_TRACKED.code: NOT_TRACKED.name},
        has_orders=has_orders,
        saved=d.sync.carrier_mappings(merchant_id()),
        not_tracked=NOT_TRACKED,
    )


@bp.post("/carriers")
@login_required
def map_service() -> Any:
    d = deps()
    command = MapShippingServiceCommand(
        merchant_id=merchant_id(),
        shipping_key=request.form.get("shipping_key", "")[:500],
        carrier_code=request.form.get("carrier_code", "")[:100],
    )
    labels = {s.shipping_key: s.label for s in d.orders.unmatched_services(merchant_id())}
    labels |= {m.shipping_key: m.label for m in d.sync.carrier_mappings(merchant_id())}
    label = labels.get(command.shipping_key, "A forma de envio")
    try:
        moved = d.use_cases.map_shipping_service()(command)
    except InvalidInput as exc:
        flash(sentence(next(iter(exc.field_errors.values()), exc.message)), "error")
    except NotFound as exc:
        flash(sentence(exc.message), "error")
    else:
        carrier = d.carriers.get(command.carrier_code)
        name = carrier.name if carrier else command.carrier_code
        if command.carrier_code == NOT_TRACKED.code:
            flash(f"{label} não será rastreada: {plural(moved, 'pedido marcado', 'pedidos marcados')} como não rastreado.",
                  "success")
        else:
            flash(
                f"{label} agora é {name}: {plural(moved, 'pedido passou', 'pedidos passaram')} a usar essa transportadora.",
                "success",
            )
    return redirect(url_for(".index"), 303)


@bp.post("/carriers/remove")
@login_required
def remove_mapping() -> Any:
    d = deps()
    key = request.form.get("shipping_key", "")[:500]
    labels = {m.shipping_key: m.label for m in d.sync.carrier_mappings(merchant_id())}
    try:
        d.use_cases.remove_carrier_mapping()(RemoveCarrierMappingCommand(merchant_id(), key))
    except NotFound:
        flash("Essa indicação já não existia.", "error")
    else:
        flash(f"Indicação de {labels.get(key, 'forma de envio')} removida. Os pedidos já importados ficam como estão; "
              "os novos voltam a ser identificados pelas regras da Kanglu.", "success")
    return redirect(url_for(".index"), 303)
