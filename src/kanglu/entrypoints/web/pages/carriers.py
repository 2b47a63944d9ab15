"""Transportadoras: shipping services no rule identified, each mapped by hand to a carrier."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from kanglu.application.commands import MapShippingService
from kanglu.application.errors import InvalidInput, NotFound
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
        carrier_names={c.code: c.name for c in carriers},
        has_orders=has_orders,
    )


@bp.post("/carriers")
@login_required
def map_service() -> Any:
    d = deps()
    command = MapShippingService(
        merchant_id=merchant_id(),
        shipping_key=request.form.get("shipping_key", "")[:500],
        carrier_code=request.form.get("carrier_code", "")[:100],
    )
    labels = {s.shipping_key: s.label for s in d.orders.unmatched_services(merchant_id())}
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
        flash(
            f"{label} agora é {name}: {plural(moved, 'pedido passou', 'pedidos passaram')} a usar essa transportadora.",
            "success",
        )
    return redirect(url_for(".index"), 303)
