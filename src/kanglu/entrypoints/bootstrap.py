"""What every process does first: logs, the schema of the embedded database, metrics."""

from __future__ import annotations

import logging
from typing import Any

from kanglu.entrypoints.settings import Settings

log = logging.getLogger(__name__)


def prepare_database(container: Any) -> None:
    """The embedded SQLite default upgrades itself; PostgreSQL is upgraded by the operator
    with `kanglu db upgrade` (several processes must not race to migrate production)."""
    from kanglu.adapters.sql.schema import current_revision, head_revision, upgrade_embedded_if_behind

    settings: Settings = container.settings()
    engine = container.adapters.engine()
    if settings.is_sqlite:
        if upgrade_embedded_if_behind(engine):
            log.info("embedded database upgraded", extra={"database": settings.safe_database_url})
    elif current_revision(engine) != head_revision():
        raise SystemExit(
            f"the database schema is not at the latest revision: run `kanglu db upgrade` "
            f"(database {settings.safe_database_url})"
        )


def start_metrics_server(settings: Settings, metrics: Any) -> None:
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=metrics.registry)
        log.info("metrics served", extra={"port": settings.metrics_port})
