"""Is the database at this version's schema? Answered without Alembic.

Every process start asks (the worker, the web app, the CLI), and almost always the answer is
yes. Alembic's own answer reads and executes every migration script to find the head: ~0.25 s
of each start, paid again by each of the dozens of short `kanglu worker --once` runs a test
suite or a cron makes. The head is written down here instead; a test holds it to Alembic's.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

HEAD_REVISION = "0010"  # the newest migration's `revision` (tests/integration/sql/test_migrations.py)


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, None for a database never migrated."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions[0] if len(versions) == 1 else None  # several heads: let Alembic tell


def at_head(engine: Engine) -> bool:
    return stored_revision(engine) == HEAD_REVISION
