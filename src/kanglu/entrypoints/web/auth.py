"""Login and logout of merchants: e-mail and password, server-side sessions, throttling.

The signed cookie (Flask's session) carries the CSRF token, pending notices and, once logged
in, the id of a server-side session row (application/web_access.py): logging out, a new
password or "Encerrar" on the Conta page deletes the row, and a copy of the cookie taken
before opens nothing after.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from kanglu.application.web_access import WebSession, throttle_keys
from kanglu.domain.customers import normalise_email
from kanglu.domain.merchants import Merchant
from kanglu.entrypoints.web.deps import deps
from kanglu.entrypoints.web.security import safe_next

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

SESSION_ID = "sid"
SESSION_FINGERPRINT = "pwf"
PENDING_NOTICES = "pending_notices"
DUMMY_PASSWORD = "kanglu-no-such-account"  # verified when the e-mail is unknown: same cost, no hint

F = TypeVar("F", bound=Callable[..., Any])


def _fingerprint(password_hash: str) -> str:
    """Ties a session to the password it was opened with: a new password ends old sessions."""
    return hashlib.sha256(b"kanglu-session:" + password_hash.encode("utf-8")).hexdigest()[:24]


def current_merchant() -> Merchant | None:
    if "merchant" in g:
        cached: Merchant | None = g.merchant
        return cached
    merchant = None
    web_session = None
    token = session.get(SESSION_ID)
    if isinstance(token, str) and token:
        d = deps()
        web_session = d.sessions.resolve(token, d.clock.now())
        found = d.merchants.get(web_session.merchant_id) if web_session is not None else None
        # Belt and braces: a password set by other means (an operator) ends sessions too.
        if found is not None and found.password_hash and session.get(SESSION_FINGERPRINT) == _fingerprint(
            found.password_hash
        ):
            merchant = found
    g.merchant = merchant
    g.web_session = web_session if merchant is not None else None
    return merchant


def current_session() -> WebSession | None:
    current_merchant()
    return g.get("web_session")


def current_token() -> str | None:
    token = session.get(SESSION_ID)
    return token if isinstance(token, str) else None


def start_session(merchant: Merchant) -> None:
    """A fresh cookie (and CSRF token) over a new server-side session."""
    assert merchant.id is not None and merchant.password_hash is not None
    d = deps()
    token = d.sessions.open(merchant.id, d.clock.now(), request.user_agent.string, client_address())
    session.clear()
    session.permanent = True
    session[SESSION_ID] = token
    session[SESSION_FINGERPRINT] = _fingerprint(merchant.password_hash)
    g.pop("merchant", None)
    g.pop("web_session", None)


def client_address() -> str:
    """The client's address: the peer's, or behind KANGLU_PROXY_HOPS trusted proxies the one
    they saw (ProxyFix has rewritten remote_addr by then)."""
    return (request.remote_addr or "unknown")[:64]


def merchant_id() -> int:
    merchant = current_merchant()
    assert merchant is not None and merchant.id is not None, "view not behind login_required"
    return merchant.id


def _here() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_merchant() is None:
            return redirect(url_for("auth.login", next=_here()))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def stash_notice(category: str, message: str, owner_id: int | None = None, others_see: str | None = None) -> None:
    """A message for a browser that is not logged in, shown once it logs in; `others_see`
    replaces it if whoever logs in is not `owner_id` (it may name the owner's Tiny account)."""
    notices = list(session.get(PENDING_NOTICES) or [])[-4:]
    notices.append([category, message, owner_id, others_see])
    session[PENDING_NOTICES] = notices


def _wait_text(wait: timedelta) -> str:
    seconds = max(1, int(-(-wait.total_seconds() // 1)))
    if seconds < 60:
        return f"{seconds} segundo{'s' if seconds > 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minuto{'s' if minutes > 1 else ''}"


def locked_message(wait: timedelta) -> str:
    return f"Muitas tentativas sem sucesso. Por segurança, aguarde {_wait_text(wait)} e tente de novo."


def _dummy_hash() -> str:
    d = deps()
    if d.dummy_hash is None:
        d.dummy_hash = d.passwords.hash(DUMMY_PASSWORD)
    return d.dummy_hash


def authenticate(email: str, password: str, address: str) -> tuple[Merchant | None, str | None, int]:
    """The merchant, or None with the message and HTTP status to show."""
    d = deps()
    now = d.clock.now()
    normalised = normalise_email(email) or email.strip().lower()[:254]
    keys = throttle_keys(normalised, address)
    wait = d.login_attempts.blocked_for(keys, now)
    if wait is not None:
        log.warning("login refused: throttled", extra={"ip": address})
        return None, locked_message(wait), 429
    merchant = d.merchants.by_email(normalised) if normalised else None
    stored = merchant.password_hash if merchant is not None and merchant.password_hash else None
    verified = d.passwords.verify(stored or _dummy_hash(), password)
    if merchant is None or stored is None or not verified:
        d.login_attempts.failed(keys, now)
        log.info("login refused: bad credentials", extra={"ip": address})
        wait = d.login_attempts.blocked_for(keys, now)
        if wait is not None:
            return None, locked_message(wait), 429
        return None, "E-mail ou senha incorretos.", 401
    # The pair's and the e-mail's failures are forgotten; the address keeps its count, or an
    # attacker with one account of their own could wipe it between guesses.
    d.login_attempts.succeeded([keys[0], keys[2]])
    return merchant, None, 200


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next"), url_for("integrations.index"))
    if request.method == "GET":
        if current_merchant() is not None:
            return redirect(target)
        return render_template("login.html", next=target, email="", pending=bool(session.get(PENDING_NOTICES)))
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")[:1024]
    merchant, error, status = authenticate(email, password, client_address())
    if merchant is None:
        return (
            render_template(
                "login.html", next=target, email=email, error=error, pending=bool(session.get(PENDING_NOTICES))
            ),
            status,
        )
    notices = list(session.get(PENDING_NOTICES) or [])
    start_session(merchant)
    for category, message, owner_id, others_see in notices:
        flash(message if owner_id in (None, merchant.id) else (others_see or message), category)
    log.info("merchant logged in", extra={"merchant_id": merchant.id})
    return redirect(target)


@bp.post("/logout")
def logout() -> Any:
    token = current_token()
    if token:
        deps().sessions.end(token)
    session.clear()
    flash("Você saiu da sua conta.", "info")
    return redirect(url_for("auth.login"))
