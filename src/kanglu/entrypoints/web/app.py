"""The Flask app factory: one app per container, every blueprint, security on every answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from kanglu.adapters.sql.engine import ping_on_every_checkout
from kanglu.application.web_access import SESSION_MAX_AGE, LoginAttempts, WebSessions
from kanglu.entrypoints.web import errors, formatting, security
from kanglu.entrypoints.web.api import views as api
from kanglu.entrypoints.web.auth import bp as auth_bp
from kanglu.entrypoints.web.auth import current_merchant
from kanglu.entrypoints.web.deps import EXTENSION, Deps
from kanglu.entrypoints.web.pages import account, carriers, customers, history, integrations, orders, situacoes

if TYPE_CHECKING:
    from kanglu.entrypoints.containers import Container


class _SessionInterface(SecureCookieSessionInterface):
    """Secure cookies when the public URL is https, and also whenever the request came over
    https (behind KANGLU_PROXY_HOPS proxies, as their X-Forwarded-Proto says)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def create_app(
    container: Container | None = None,
    login_attempts: LoginAttempts | None = None,
    sessions: WebSessions | None = None,
) -> Flask:
    """`container` defaults to the deployment's (settings from the environment); the login
    throttle and the sessions to the database's, shared by every web process."""
    if container is None:
        # The deployment's own app (gunicorn): logs configured, and the schema checked (the
        # embedded SQLite upgrades itself; PostgreSQL must be at `kanglu db upgrade`'s head).
        from kanglu.entrypoints.bootstrap import prepare_database
        from kanglu.entrypoints.containers import build_container
        from kanglu.entrypoints.logging_setup import configure_logging

        container = build_container()
        configure_logging(container.settings().log_format)
        prepare_database(container)
    settings = container.settings()
    https = settings.public_url.startswith("https://")

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="kanglu_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        # The cookie may live as long as a session can; the server ends it sooner (idle).
        PERMANENT_SESSION_LIFETIME=SESSION_MAX_AGE,
        PREFERRED_URL_SCHEME="https" if https else "http",
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Deps(
        container,
        login_attempts if login_attempts is not None else container.adapters.login_attempts(),
        sessions if sessions is not None else container.adapters.web_sessions(),
    )
    app.session_interface = _SessionInterface()
    ping_on_every_checkout(container.adapters.engine())
    if settings.proxy_hops:
        # Behind KANGLU_PROXY_HOPS reverse proxies: the client's address (the login throttle's
        # key) and the scheme (https for Secure cookies and redirects) come from the headers
        # those proxies set, and from nothing a client could add before them.
        hops = settings.proxy_hops
        proxied = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
        app.wsgi_app = proxied  # type: ignore[method-assign]

    security.protect_forms(app, exempt_prefixes=(api.PREFIX + "/",))
    security.add_security_headers(app, https=https)
    formatting.install(app)
    errors.install(app)

    for blueprint in (
        auth_bp,
        integrations.bp,
        situacoes.bp,
        orders.bp,
        customers.bp,
        carriers.bp,
        account.bp,
        history.bp,
        api.bp,
    ):
        app.register_blueprint(blueprint)

    # A function, not a context value: the error page must render even when loading the
    # merchant is what failed.
    app.jinja_env.globals["current_merchant"] = current_merchant

    @app.get("/")
    def home() -> Any:
        return redirect(url_for("integrations.index"))

    return app
