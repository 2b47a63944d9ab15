"""Clientes: the listing with search, and one customer with their orders."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from kanglu.entrypoints.web.auth import login_required, merchant_id
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.pages.orders import PER_PAGE, listing_context
from kanglu.entrypoints.web.params import MAX_ID, parse_list_params

bp = Blueprint("customers", __name__)


@bp.get("/customers")
@login_required
def index() -> Any:
    params, _ = parse_list_params(request.args, per_page=PER_PAGE, blank_is_absent=True)
    result = deps().customers.list_customers(merchant_id(), params.q, params.page_request)
    return render_template("customers.html", params=params, **listing_context(request.path, result))


@bp.get("/customers/<int:customer_id>")
@login_required
def detail(customer_id: int) -> Any:
    d = deps()
    view = d.customers.get_customer(merchant_id(), customer_id) if customer_id <= MAX_ID else None
    if view is None:
        abort(404)
    params, _ = parse_list_params(request.args, per_page=PER_PAGE, blank_is_absent=True)
    filters = params.order_filters(customer_id=customer_id)
    orders = d.orders.list_order_summaries(merchant_id(), filters, params.page_request)
    return render_template(
        "customer.html",
        view=view,
        customer=view.customer,
        carrier_names=d.carrier_choices.names,
        **listing_context(request.path, orders),
    )
