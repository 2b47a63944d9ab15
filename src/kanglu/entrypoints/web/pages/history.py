"""Histórico: what happened to the Tiny integration, newest first (kept 90 days)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from kanglu.entrypoints.web.api.resources import event_message
from kanglu.entrypoints.web.auth import login_required, merchant_id
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.pages.orders import listing_context
from kanglu.entrypoints.web.params import parse_list_params

bp = Blueprint("history", __name__)

PER_PAGE = 50


@bp.get("/integrations/history")
@login_required
def index() -> Any:
    params, _ = parse_list_params(request.args, per_page=PER_PAGE, blank_is_absent=True)
    result = deps().sync.events(merchant_id(), params.page_request)
    return render_template("history.html", event_message=event_message, **listing_context(request.path, result))
