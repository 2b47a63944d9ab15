"""Situações: what Kanglu does with an order in each Tiny situação."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from kanglu.application.commands import UpdateStatusMappingCommand
from kanglu.application.errors import InvalidInput, NotFound
from kanglu.domain.situacoes import DEFAULT_ACTIONS, Action, Situacao
from kanglu.entrypoints.web.auth import login_required, merchant_id
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.formatting import sentence

bp = Blueprint("situacoes", __name__)

FIELD_PREFIX = "situacao_"
PDV_FIELD = "import_point_of_sale"


@bp.get("/situacoes")
@login_required
def index() -> Any:
    state = deps().status_mapping(merchant_id())
    rows = [
        {"situacao": situacao, "action": action, "default": DEFAULT_ACTIONS.get(situacao, Action.IGNORE)}
        for situacao, action in state.mapping.full()
    ]
    return render_template(
        "situacoes.html",
        rows=rows,
        actions=list(Action),
        configured=state.configured,
        imports_nothing=not state.mapping.imported_situacoes,
        defaults=[(s, a) for s, a in DEFAULT_ACTIONS.items()],
        import_point_of_sale=state.import_point_of_sale,
    )


@bp.post("/situacoes")
@login_required
def save() -> Any:
    actions = {
        int(situacao): request.form[f"{FIELD_PREFIX}{int(situacao)}"]
        for situacao in Situacao
        if f"{FIELD_PREFIX}{int(situacao)}" in request.form
    }
    # An unticked checkbox sends nothing: the hidden field tells a form that has it from one that does not.
    point_of_sale = (PDV_FIELD in request.form) if f"{PDV_FIELD}_shown" in request.form else None
    return _update(actions, "Situações salvas. A próxima sincronização já segue o novo mapeamento.", point_of_sale)


@bp.post("/situacoes/restore")
@login_required
def restore() -> Any:
    """Restaurar padrão: every situação back to PRODUCT.md's default action (PDV sales as they were)."""
    actions = {int(situacao): DEFAULT_ACTIONS.get(situacao, Action.IGNORE).value for situacao in Situacao}
    return _update(actions, "Mapeamento padrão restaurado. A próxima sincronização já segue o padrão.")


def _update(actions: dict[int, str], done: str, point_of_sale: bool | None = None) -> Any:
    try:
        mapping = deps().use_cases.update_status_mapping()(UpdateStatusMappingCommand(merchant_id(), actions, point_of_sale))
    except NotFound as exc:
        flash(sentence(exc.message), "error")
    except InvalidInput:
        flash("Escolha uma das ações da lista para cada situação.", "error")
    else:
        if mapping.imported_situacoes:
            flash(done, "success")
        else:
            # Allowed (a merchant may pause imports this way), but never silently.
            flash(
                "Situações salvas, mas todas estão como “Ignorar”: a Kanglu não vai importar nenhum pedido do Tiny.",
                "warn",
            )
    return redirect(url_for(".index"), 303)
