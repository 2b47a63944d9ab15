"""Pedidos: the listing with search, filters and page numbers; one order; the import failures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from kanglu.adapters.tiny.gateway import order_web_url
from kanglu.application.commands import RetryImportFailureCommand
from kanglu.application.errors import NotFound, ReauthorizationRequired, TransientFailure
from kanglu.application.queries import UNKNOWN_CARRIER
from kanglu.application.use_cases.retry_import_failure import CannotRetry, RetryOutcome
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus
from kanglu.entrypoints.web.auth import login_required, merchant_id
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.formatting import sentence
from kanglu.entrypoints.web.pagination import page_url, page_window
from kanglu.entrypoints.web.params import MAX_ID, parse_list_params

bp = Blueprint("orders", __name__)

PER_PAGE = 25


def listing_context(path: str, result: Any) -> dict[str, Any]:
    return {
        "result": result,
        "window": page_window(result.page, result.pages),
        "page_url": lambda number: page_url(path, request.args, number),
    }


@bp.get("/orders")
@login_required
def index() -> Any:
    d = deps()
    params, _ = parse_list_params(request.args, per_page=PER_PAGE, carriers=d.carriers, blank_is_absent=True)
    result = d.orders.list_order_summaries(merchant_id(), params.order_filters(), params.page_request)
    filtered = any(v is not None for v in (params.q, params.situacao, params.tracking_status, params.carrier_code))
    carriers = d.carrier_choices
    return render_template(
        "orders.html",
        params=params,
        filtered=filtered,
        situacoes=list(Situacao),
        tracking_statuses=list(ShipmentStatus),
        carriers=carriers.by_name,
        unknown_carrier=UNKNOWN_CARRIER,
        carrier_names=carriers.names,
        **listing_context(request.path, result),
    )


@bp.get("/orders/<int:order_id>")
@login_required
def detail(order_id: int) -> Any:
    d = deps()
    view = d.orders.get_order(merchant_id(), order_id) if order_id <= MAX_ID else None
    if view is None:
        abort(404)
    order = view.order
    carrier = d.carriers.get(order.carrier_code) if order.carrier_code else None
    return render_template("order.html", view=view, order=order, carrier=carrier,
                           erp_url=order_web_url(order.erp_order_id))


@bp.get("/orders/failures")
@login_required
def failures() -> Any:
    params, _ = parse_list_params(request.args, per_page=PER_PAGE, blank_is_absent=True)
    result = deps().orders.import_failures(merchant_id(), params.page_request)
    return render_template("failures.html", erp_url=order_web_url, **listing_context(request.path, result))


_RETRIED = {
    RetryOutcome.IMPORTED: ("Pedido importado: a falha foi resolvida.", "success"),
    RetryOutcome.ALREADY_RESOLVED: ("Esta falha já estava resolvida.", "info"),
}


@bp.post("/orders/failures/<int:failure_id>/retry")
@login_required
def retry_failure(failure_id: int) -> Any:
    """Tentar de novo: the order fetched from Tiny now, and the outcome said at once."""
    try:
        result = deps().use_cases.retry_import_failure()(RetryImportFailureCommand(merchant_id(), failure_id))
    except NotFound:
        abort(404)
    except (CannotRetry, ReauthorizationRequired) as exc:
        flash(sentence(exc.message), "error")
    except TransientFailure:
        flash("O Tiny não respondeu agora. Tente de novo em instantes.", "error")
    else:
        if result.outcome in _RETRIED:
            message, category = _RETRIED[result.outcome]
            flash(message, category)
        else:
            flash(f"O pedido ainda não pôde ser importado: {result.reason}.", "error")
    return redirect(url_for(".failures"), 303)
