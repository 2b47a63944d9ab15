"""The web app after the database dropped its connections (a restart, a failover, a firewall):
the next request reconnects instead of answering 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from kanglu.adapters.crypto import FernetSecretBox
from kanglu.adapters.sql import orm
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.schema import upgrade_to_head
from kanglu.application.commands import CreateMerchantCommand
from kanglu.domain.secrets import Secret
from kanglu.entrypoints.containers import Container
from kanglu.entrypoints.settings import Settings
from kanglu.entrypoints.web import create_app
from tests.integration.sql.conftest import (
    NO_POSTGRES,
    POSTGRES_URL,
    create_schema,
    drop_schema,
    postgres_url_in,
    private_schema_name,
)

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def plain_domain_classes_afterwards() -> Iterator[None]:
    """These tests map the domain classes (the real SQL adapters, in this process); the
    fake-backed tests that follow need the plain classes back (as in test_browser_flow.py)."""
    mapped_before = orm.mappers_started()
    yield
    if not mapped_before:
        orm.stop_mappers()


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    # Private to this process: a fixed name would collide with a parallel run (xdist, or
    # another checkout's suite on the same PostgreSQL), which drops it mid-test.
    schema = private_schema_name("web_drop")
    create_schema(schema)
    try:
        yield schema
    finally:
        drop_schema(schema)


def _drop_every_connection(application_name: str) -> int:
    admin = make_engine(POSTGRES_URL)  # type: ignore[arg-type]
    try:
        with admin.begin() as connection:
            return len(connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = :name"
            ), {"name": application_name}).all())
    finally:
        admin.dispose()


def test_the_first_request_after_a_connection_drop_is_not_a_500(postgres_schema: str, tmp_path: Path) -> None:
    # Named after the private schema, so that only this test's connections are dropped.
    application_name = f"kanglu-drop-{postgres_schema}"
    url = f"{postgres_url_in(postgres_schema)}&application_name={application_name}"
    upgrade_to_head(url)
    settings = Settings(data_dir=tmp_path, database_url=url, secret_key="k" * 40,
                        encryption_keys=(FernetSecretBox.generate_key(),))
    container = Container(settings=settings)
    try:
        created = container.use_cases.create_merchant()(CreateMerchantCommand("Loja", "a@loja.com.br", Secret("senha-forte")))
        client = create_app(container).test_client()
        bearer = {"Authorization": f"Bearer {created.api_key}"}
        assert client.get("/api/v1/orders", headers=bearer).status_code == 200
        assert _drop_every_connection(application_name) >= 1
        assert client.get("/api/v1/orders", headers=bearer).status_code == 200
        assert client.get("/login").status_code == 200
    finally:
        container.shutdown_resources()
