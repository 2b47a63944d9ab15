"""Conta: the merchant's password, browser sessions and API key."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from kanglu.application.commands import ChangePasswordCommand, RotateApiKeyCommand
from kanglu.application.errors import InvalidInput
from kanglu.domain.secrets import Secret
from kanglu.application.web_access import throttle_keys
from kanglu.entrypoints.web.auth import (
    client_address,
    current_merchant,
    current_session,
    current_token,
    locked_message,
    login_required,
    merchant_id,
    start_session,
)
from kanglu.entrypoints.web.deps import deps

bp = Blueprint("account", __name__)

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device_summary(user_agent: str | None) -> str:
    """"Chrome no Windows" from a User-Agent: enough to tell one's own devices apart."""
    if not user_agent:
        return "Navegador desconhecido"
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return f"{browser} no {system}"
    if browser or system:
        return browser or system  # type: ignore[return-value]
    first = re.split(r"[\s/;(]", user_agent.strip(), maxsplit=1)[0]
    return first[:40] or "Navegador desconhecido"


def _render(status: int = 200, errors: dict[str, str] | None = None, new_key: str | None = None) -> Any:
    d = deps()
    now = d.clock.now()
    mine = current_session()
    sessions = d.sessions.active(merchant_id(), now)
    return (
        render_template(
            "account.html",
            sessions=sessions,
            current_id=mine.id if mine else None,
            now=now,
            errors=errors or {},
            new_key=new_key,
            device_summary=device_summary,
        ),
        status,
    )


@bp.get("/conta")
@login_required
def index() -> Any:
    return _render()


@bp.post("/conta/senha")
@login_required
def change_password() -> Any:
    current = request.form.get("current_password", "")[:1024]
    new = request.form.get("new_password", "")[:2048]
    confirm = request.form.get("confirm_password", "")[:2048]
    if new != confirm:
        return _render(400, {"confirm_password": "a confirmação não confere com a nova senha"})
    d = deps()
    # Guesses of the current password count as failed logins: a stolen session cannot be used
    # to try passwords faster than the login page allows.
    me = current_merchant()
    assert me is not None
    keys = throttle_keys(me.email, client_address())
    wait = d.login_attempts.blocked_for(keys, d.clock.now())
    if wait is not None:
        return _render(429, {"current_password": locked_message(wait).rstrip(".")})
    try:
        d.use_cases.change_password()(ChangePasswordCommand(merchant_id(), Secret(current), Secret(new)))
    except InvalidInput as exc:
        if "current_password" in exc.field_errors:
            d.login_attempts.failed(keys, d.clock.now())
        return _render(400, exc.field_errors)
    others = d.sessions.end_others(merchant_id(), keep_token=current_token())
    merchant = d.merchants.get(merchant_id())
    assert merchant is not None
    token = current_token()
    if token:
        d.sessions.end(token)
    start_session(merchant)  # this browser stays in, on a new session tied to the new password
    if others == 1:
        flash("Senha alterada. A outra sessão aberta foi encerrada.", "success")
    elif others > 1:
        flash(f"Senha alterada. As outras {others} sessões abertas foram encerradas.", "success")
    else:
        flash("Senha alterada.", "success")
    return redirect(url_for(".index"), 303)


@bp.post("/conta/sessoes/<int:session_id>/encerrar")
@login_required
def end_session(session_id: int) -> Any:
    mine = current_session()
    if mine is not None and mine.id == session_id:
        flash("Para encerrar esta sessão, use Sair.", "info")
    elif deps().sessions.end_one(merchant_id(), session_id):
        flash("Sessão encerrada.", "success")
    else:
        flash("Essa sessão já tinha sido encerrada.", "info")
    return redirect(url_for(".index"), 303)


@bp.post("/conta/sessoes/encerrar-outras")
@login_required
def end_other_sessions() -> Any:
    ended = deps().sessions.end_others(merchant_id(), keep_token=current_token())
    if ended:
        flash(f"{ended} sess{'ões encerradas' if ended > 1 else 'ão encerrada'}.", "success")
    else:
        flash("Não havia outras sessões abertas.", "info")
    return redirect(url_for(".index"), 303)


@bp.post("/conta/chave-api")
@login_required
def rotate_key() -> Any:
    rotated = deps().use_cases.rotate_api_key()(RotateApiKeyCommand(merchant_id=merchant_id()))
    # Shown in this answer only (never in a flash: the cookie is signed, not encrypted).
    return _render(new_key=rotated.api_key)
