"""The Flask app factory: one app per container, every blueprint, security on every answer."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, redirect, url_for

from kanglu.entrypoints.web import errors, formatting, security
from kanglu.entrypoints.web.api import views as api
from kanglu.entrypoints.web.auth import bp as auth_bp
from kanglu.entrypoints.web.auth import current_merchant
from kanglu.entrypoints.web.deps import EXTENSION, Deps
from kanglu.entrypoints.web.pages import carriers, customers, history, integrations, orders, situacoes
from kanglu.entrypoints.web.throttle import InMemoryLoginAttempts, LoginAttempts

if TYPE_CHECKING:
    from kanglu.entrypoints.containers import Container

SESSION_LIFETIME = timedelta(hours=12)


def create_app(container: Container | None = None, login_attempts: LoginAttempts | None = None) -> Flask:
    """`container` defaults to the deployment's (settings from the environment)."""
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
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        PREFERRED_URL_SCHEME="https" if https else "http",
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Deps(container, login_attempts or InMemoryLoginAttempts())

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
