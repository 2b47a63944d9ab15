"""Fixtures: a deployment on SQLite (a fresh file) and, when KANGLU_TEST_POSTGRES_URL is set,
on PostgreSQL (a private schema, dropped afterwards); skipped, saying so, otherwise."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.worker.harness import Deployment, deployment
from tests.integration.sql.conftest import NO_POSTGRES, POSTGRES_URL, create_schema, drop_schema, postgres_url_in


@contextmanager
def postgres_database(label: str) -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = f"kanglu_worker_{label}_{uuid.uuid4().hex[:8]}"
    create_schema(schema)
    try:
        yield postgres_url_in(schema)
    finally:
        drop_schema(schema)


@pytest.fixture
def sqlite_deployment(tmp_path: Path) -> Callable[..., Any]:
    """`with sqlite_deployment(**settings) as d:` on a fresh SQLite file."""

    def make(**settings: Any) -> Any:
        return deployment(tmp_path, f"sqlite:///{tmp_path / 'kanglu.sqlite3'}", **settings)

    return make


@pytest.fixture
def postgres_deployment(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """`with postgres_deployment(**settings) as d:` on a private PostgreSQL schema."""
    with postgres_database(re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:24]) as url:

        def make(**settings: Any) -> Any:
            return deployment(tmp_path, url, **settings)

        yield make


@pytest.fixture
def sqlite_world(sqlite_deployment: Callable[..., Any]) -> Iterator[Deployment]:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="2", KANGLU_JOB_LEASE_SECONDS="10") as world:
        yield world
