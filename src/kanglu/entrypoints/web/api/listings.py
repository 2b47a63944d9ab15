"""The JSON API's listings: orders, customers and the orders that could not be imported."""

from __future__ import annotations

from flask import Response, abort, request

from kanglu.application.commands import RetryImportFailureCommand
from kanglu.application.errors import NotFound, ReauthorizationRequired, TransientFailure
from kanglu.application.use_cases.retry_import_failure import CannotRetry
from kanglu.entrypoints.web.api.common import DEFAULT_PER_PAGE, ApiError, bp, invalid, list_params, merchant_id, ok
from kanglu.entrypoints.web.api.resources import RetryOut, customer_out, failure_out, order_out, page_out
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.params import MAX_ID, parse_list_params

ORDER_PARAMS = ("situacao", "tracking_status", "carrier", "updated_since", "q", "page", "per_page")
CUSTOMER_PARAMS = ("q", "page", "per_page")
@bp.get("/orders")
def list_orders() -> Response:
    d = deps()
    params = list_params(ORDER_PARAMS)
    page = d.orders.list_orders(merchant_id(), params.order_filters(), params.page_request)
    return ok(page_out(page, lambda view: order_out(view, d.carriers)))


@bp.get("/orders/<int:id>")
def get_order(id: int) -> Response:  # noqa: A002 - the name the document gives the parameter
    d = deps()
    view = d.orders.get_order(merchant_id(), id) if 1 <= id <= MAX_ID else None
    if view is None:
        abort(404)
    return ok(order_out(view, d.carriers))


@bp.get("/customers")
def list_customers() -> Response:
    params = list_params(CUSTOMER_PARAMS)
    page = deps().customers.list_customers(merchant_id(), params.q, params.page_request)
    return ok(page_out(page, lambda view: customer_out(view.customer)))


# -- import failures ------------------------------------------------------------------------


@bp.get("/import-failures")
def list_import_failures() -> Response:
    args = {k: v for k, v in request.args.items() if k in ("page", "per_page")}
    params, errors = parse_list_params(args, per_page=DEFAULT_PER_PAGE, blank_is_absent=False)
    if errors:
        raise invalid(errors)
    page = deps().orders.import_failures(merchant_id(), params.page_request)
    return ok(page_out(page, failure_out))


@bp.post("/import-failures/<int:id>/retry")
def retry_import_failure(id: int) -> Response:  # noqa: A002 - the name the document gives the parameter
    """Fetch the order again from Tiny now; 202 with what came of it."""
    if not 1 <= id <= MAX_ID:
        abort(404)
    try:
        result = deps().use_cases.retry_import_failure()(RetryImportFailureCommand(merchant_id(), id))
    except NotFound:
        abort(404)
    except (CannotRetry, ReauthorizationRequired) as exc:
        raise ApiError(409, "conflict", exc.message) from None
    except TransientFailure:
        raise ApiError(503, "erp_unavailable", "O Tiny não respondeu agora: tente de novo em instantes.") from None
    return ok(RetryOut(id, result.outcome.value, result.reason), 202)
