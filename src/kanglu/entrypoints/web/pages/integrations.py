"""Integrações: the ERP cards, Tiny's credentials, Conectar / Desconectar and the OAuth callback."""

from __future__ import annotations

import logging
from typing import Any

from datetime import datetime

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from kanglu.application.commands import (
    BeginConnectErpCommand,
    CompleteConnectErpCommand,
    DisconnectErpCommand,
    RequestSyncCommand,
    SaveErpCredentialsCommand,
    SaveNotificationSettingsCommand,
)
from kanglu.application.errors import ApplicationError, AuthorizationFailed, InvalidInput, NotFound
from kanglu.application.use_cases.disconnect_erp import DISCONNECTED_BY_MERCHANT
from kanglu.application.poll_permissions import PERMISSION_RECHECK
from kanglu.application.use_cases.merchant_sync import SyncTooSoon
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.erp_credentials import ErpCredentials
from kanglu.domain.permissions import ErpPermission, ordered
from kanglu.domain.secrets import Secret
from kanglu.entrypoints.web.auth import current_merchant, login_required, merchant_id, stash_notice
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.api.bodies import WEBHOOK_URL_MAX, valid_webhook_url
from kanglu.entrypoints.web.formatting import datetime_br, local_datetime, plural, sentence, time_ago

log = logging.getLogger(__name__)

bp = Blueprint("integrations", __name__)

# Other ERPs merchants ask for; shown so the page says where the product is going.
COMING_SOON = ("Bling", "Omie", "Conta Azul")


def _render(
    form: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200,
    alerts_form: dict[str, Any] | None = None, alerts_errors: dict[str, str] | None = None,
    new_webhook_secret: str | None = None,
) -> Any:
    """The page; after a refused Salvar, `form` holds what the merchant typed, the Client Secret
    included (see `save`), so that one wrong field never costs the others."""
    d = deps()
    summary = d.merchants.connection_summary(merchant_id())
    notifications = d.sync.notifications(merchant_id())
    sync = d.sync.sync_state(merchant_id())
    connection = summary.connection
    status_value = connection.status if connection is not None else ConnectionStatus.NOT_CONFIGURED
    values = form or {
        "client_id": (connection.client_id if connection else None) or "",
        "invite_link": (connection.invite_link if connection else None) or "",
        "client_secret": "",  # a stored secret is never rendered
    }
    return (
        render_template(
            "integrations.html",
            summary=summary,
            connection=connection,
            status=status_value,
            secret_saved=bool(connection is not None and connection.client_secret is not None),
            redirect_uri=d.settings.redirect_uri,
            form=values,
            errors=errors or {},
            now=d.clock.now(),
            coming_soon=COMING_SOON,
            disconnected_by_merchant=DISCONNECTED_BY_MERCHANT,
            permissions=list(ErpPermission),
            missing_permissions=ordered(connection.missing_permissions) if connection is not None else [],
            recheck_minutes=int(PERMISSION_RECHECK.total_seconds() // 60),
            sync=sync,
            next_sync=next_sync_text(sync.next_sync_at, d.clock.now()) if sync is not None else None,
            notifications=alerts_form or {"email": notifications.email, "webhook_url": notifications.webhook_url or ""},
            alerts_errors=alerts_errors or {},
            new_webhook_secret=new_webhook_secret,
            mail_configured=bool(d.settings.smtp_url or d.settings.console_mail),
            sentence=sentence,
        ),
        status,
    )


@bp.get("/integrations")
@login_required
def index() -> Any:
    return _render()


@bp.post("/integrations/tiny")
@login_required
def save() -> Any:
    # The whole text goes to the use case (the request size is already bounded), so that an
    # overlong value is refused by ErpCredentials rather than silently cut to a valid one;
    # only what is echoed back into the form is cut, at ErpCredentials' limits.
    client_id = request.form.get("client_id", "")
    invite_link = request.form.get("invite_link", "")
    secret = request.form.get("client_secret", "")
    command = SaveErpCredentialsCommand(
        merchant_id=merchant_id(),
        client_id=client_id,
        client_secret=Secret(secret) if secret.strip() else None,
        invite_link=invite_link,
    )
    try:
        deps().use_cases.save_credentials()(command)
    except InvalidInput as exc:
        # The secret the merchant just typed goes back into its password field, so that a typo
        # in the link does not make them fetch it from Tiny again. It travels back on the same
        # connection it came by, in a no-store answer, masked on screen; a secret that is
        # already stored is never rendered, and a refused secret is not echoed either.
        keep = secret.strip() if "client_secret" not in exc.field_errors else ""
        form = {
            "client_id": client_id[: ErpCredentials.CLIENT_ID_MAX],
            "invite_link": invite_link[: ErpCredentials.INVITE_LINK_MAX],
            "client_secret": keep,
        }
        return _render(form=form, errors=exc.field_errors, status=422)
    flash("Credenciais do Tiny salvas. Agora clique em Conectar para autorizar o acesso.", "success")
    return redirect(url_for(".index"), 303)


@bp.post("/integrations/tiny/connect")
@login_required
def connect() -> Any:
    try:
        authorize_url = deps().use_cases.connect_erp().begin(BeginConnectErpCommand(merchant_id()))
    except ApplicationError as exc:
        flash(sentence(exc.message), "error")
        return redirect(url_for(".index"), 303)
    return redirect(authorize_url, 303)


@bp.post("/integrations/tiny/disconnect")
@login_required
def disconnect() -> Any:
    try:
        deps().use_cases.disconnect()(DisconnectErpCommand(merchant_id()))
    except NotFound:
        flash("Não há integração com o Tiny para desconectar.", "error")
    else:
        flash("Integração com o Tiny desconectada. Os pedidos já importados continuam aqui.", "success")
    return redirect(url_for(".index"), 303)


@bp.get("/integrations/tiny/callback")
def callback() -> Any:
    """Tiny sends the browser back here. The `state` alone says which connection it is; the
    browser may hold no session (another browser, an expired login), and that changes nothing
    about the outcome, only where the message is shown."""
    args = request.args
    command = CompleteConnectErpCommand(
        state=args.get("state", "")[:4000] or None,
        code=args.get("code", "")[:4000] or None,
        error=args.get("error", "")[:200] or None,
        error_description=args.get("error_description", "")[:500] or None,
    )
    merchant = current_merchant()
    owner_id: int | None = None
    generic = "Autorização do Tiny concluída."
    try:
        connection = deps().use_cases.connect_erp().complete(command)
    except AuthorizationFailed as exc:
        log.info("erp authorization refused", extra={"reason": exc.reason})
        category, message = "error", exc.message
    except ApplicationError as exc:
        category, message = "error", exc.message
    else:
        owner_id = connection.merchant_id
        account = f" à conta {connection.account_name}" if connection.account_name else ""
        category = "success"
        message = f"Tiny conectado{account}. A primeira sincronização dos pedidos começa em instantes."
    if merchant is None:
        stash_notice(category, message, owner_id=owner_id, others_see=generic)
        return redirect(url_for("auth.login", next=url_for(".index")))
    if owner_id is not None and merchant.id != owner_id:
        # Another merchant's session in this browser: say it worked, name nobody's account.
        message = generic
    flash(message, category)
    return redirect(url_for(".index"))


# -- "Sincronizar agora", its progress, and the alerts (issue 18) ----------------------------


@bp.post("/integrations/tiny/sync")
@login_required
def sync_now() -> Any:
    d = deps()
    try:
        d.use_cases.request_sync()(RequestSyncCommand(merchant_id()))
    except SyncTooSoon as exc:
        flash(f"Uma sincronização foi pedida há menos de um minuto. Você pode pedir outra a partir das "
              f"{local_datetime(exc.next_allowed_at):%H:%M:%S}.", "error")
    except NotFound:
        flash("Configure e conecte o Tiny antes de sincronizar.", "error")
    except ApplicationError as exc:
        flash(sentence(exc.message), "error")
    else:
        flash("Sincronização pedida: começa em instantes.", "success")
    return redirect(url_for(".index"), 303)


@bp.get("/integrations/tiny/sync-state")
@login_required
def sync_state() -> Any:
    """What the card's script polls while a sync runs: small, and never cached."""
    d = deps()
    state = d.sync.sync_state(merchant_id())
    if state is None:
        body: dict[str, Any] = {"status": "not_configured"}
    else:
        now = d.clock.now()
        body = {
            "status": state.status,
            "orders": state.orders,
            "orders_text": "{:,}".format(state.orders).replace(",", "."),
            "first_import": state.first_import,
            "syncing": state.syncing or (state.next_sync_at is not None and state.next_sync_at <= now),
            "last_sync_text": (f"{datetime_br(state.last_sync_at)} {time_ago(state.last_sync_at, now)}"
                               if state.last_sync_at else "ainda não houve"),
            "next_sync_text": next_sync_text(state.next_sync_at, now),
        }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def next_sync_text(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "—"
    if at <= now:
        return "agora"
    return f"{datetime_br(at)} ({time_until(at, now)})"


def time_until(at: datetime, now: datetime) -> str:
    seconds = int((at - now).total_seconds())
    if seconds < 60:
        return "em menos de um minuto"
    minutes = round(seconds / 60)
    return f"em {plural(minutes, 'minuto', 'minutos')}"


@bp.post("/integrations/notifications")
@login_required
def save_notifications() -> Any:
    email = request.form.get("email") == "on"
    url = request.form.get("webhook_url", "")[:WEBHOOK_URL_MAX + 1].strip()
    form = {"email": email, "webhook_url": url}
    if url and (len(url) > WEBHOOK_URL_MAX or not valid_webhook_url(url)):
        return _render(alerts_form=form, alerts_errors={
            "webhook_url": "use um endereço https:// completo, como https://loja.com.br/kanglu"}, status=422)
    try:
        saved = deps().use_cases.save_notifications()(SaveNotificationSettingsCommand(merchant_id(), email, url or None))
    except InvalidInput as exc:
        return _render(alerts_form=form, alerts_errors=exc.field_errors, status=422)
    if saved.new_secret is not None:
        # Rendered, not redirected: the secret must not travel in a flash message (the session
        # cookie). It is shown this once.
        return _render(new_webhook_secret=saved.new_secret)
    flash("Avisos salvos.", "success")
    return redirect(url_for(".index") + "#avisos", 303)
