"""CSRF protection (a synchronizer token kept in the session) and the security headers.

Our own thirty lines instead of Flask-WTF: the pages have a handful of plain forms and no
WTForms, and the token check is small enough to read and test whole.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, abort, request, session
from markupsafe import Markup, escape

CSRF_SESSION_KEY = "_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# No inline script or style anywhere: every script and stylesheet is a file we ship.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        # No form-action: *Conectar* posts here and is redirected to the ERP's consent page,
        # which browsers check against form-action too.
    ]
)


def csrf_token() -> str:
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(csrf_token()))


def csrf_valid() -> bool:
    expected = session.get(CSRF_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return isinstance(expected, str) and bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())


def protect_forms(app: Flask, exempt_prefixes: tuple[str, ...]) -> None:
    """Every unsafe request outside `exempt_prefixes` (the Bearer-authenticated API, which
    never reads the session cookie) must carry the session's token."""

    @app.before_request
    def _check_csrf() -> None:
        if request.method not in UNSAFE_METHODS:
            return
        if any(request.path.startswith(prefix) for prefix in exempt_prefixes):
            return
        if not csrf_valid():
            abort(400, description="csrf")

    app.jinja_env.globals["csrf_field"] = csrf_field


def add_security_headers(app: Flask, https: bool) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # The callback URL carries the authorisation code: never hand it to another site.
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if https:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.path.startswith("/static/"):
            # Pages and answers carry a merchant's data: no shared or disk cache keeps them.
            headers.setdefault("Cache-Control", "no-store")
        return response


def safe_next(target: str | None, default: str) -> str:
    """A redirect target from a query string, kept only if it stays on this site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
