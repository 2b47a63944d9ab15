"""What every process does first: the data folder and its generated secrets, the schema of
the embedded database, metrics. The only place where starting up touches the disk."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from kanglu.adapters.crypto import FernetSecretBox, check_encryption_keys
from kanglu.entrypoints.settings import Settings, SettingsError, key_list

if TYPE_CHECKING:
    from kanglu.entrypoints.containers import Container
    from kanglu.entrypoints.metrics import WorkerMetrics

log = logging.getLogger(__name__)


def prepare_data_folder(settings: Settings) -> Settings:
    """The settings with every secret filled in. The embedded database's folder is created
    (0700); a secret not given is read from the data folder, generated there (0600) the first
    time, so that the embedded default survives restarts. Idempotent."""
    if settings.is_sqlite:
        private_folder(settings.data_dir)
    secret_key = settings.secret_key or _read_or_create(
        settings.data_dir / "secret_key", lambda: secrets.token_urlsafe(48)
    )
    keys, keys_file = settings.encryption_keys, settings.encryption_keys_file
    if not keys:
        keys_file = settings.data_dir / "encryption_keys"
        keys = key_list("KANGLU_ENCRYPTION_KEYS", _read_or_create(keys_file, FernetSecretBox.generate_key))
    try:
        check_encryption_keys(keys)
    except ValueError as exc:
        raise SettingsError(f"KANGLU_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from None
    return attrs.evolve(settings, secret_key=secret_key, encryption_keys=keys, encryption_keys_file=keys_file)


def private_folder(path: Path) -> None:
    """The data folder (secrets, the embedded database) is created 0700: other local users
    cannot even list it. An existing folder is left as its owner set it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; 0700 needs no filtering


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    private_folder(path.parent)
    value = make()
    # Created with 0600 from the start: never world-readable, not even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def prepare_database(container: Container) -> None:
    """The embedded SQLite default upgrades itself; PostgreSQL is upgraded by the operator
    with `kanglu db upgrade` (several processes must not race to migrate production)."""
    from kanglu.adapters.sql.revision import at_head

    engine = container.adapters.engine()
    if at_head(engine):
        return  # the usual case, answered without loading Alembic and the migration scripts
    from kanglu.adapters.sql.schema import current_revision, head_revision, upgrade_embedded_if_behind

    settings = container.settings()
    if settings.is_sqlite:
        if upgrade_embedded_if_behind(engine):
            log.info("embedded database upgraded", extra={"database": settings.safe_database_url})
    elif current_revision(engine) != head_revision():
        raise SystemExit(
            f"the database schema is not at the latest revision: run `kanglu db upgrade` "
            f"(database {settings.safe_database_url})"
        )


def start_metrics_server(settings: Settings, metrics: WorkerMetrics) -> None:
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=metrics.registry)
        log.info("metrics served", extra={"port": settings.metrics_port})
