"""The metadata every table belongs to, with stable constraint names, and the columns many
tables share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, MetaData, insert_sentinel

from kanglu.adapters.sql.types import Id

# Stable constraint names, so that migrations can refer to them on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def id_column() -> Column[Any]:
    return Column("id", Id, primary_key=True, autoincrement=True)


def sentinel_column() -> Column[Any]:
    """A column SQLAlchemy fills with a counter in multi-row INSERTs, so that the ids
    RETURNING gives back can be matched to the rows. PostgreSQL does without (it orders
    generated ids itself); SQLite needs it, or the ORM inserts a page one row at a time."""
    return insert_sentinel("insert_sentinel")
