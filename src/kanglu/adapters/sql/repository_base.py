"""What the SQL repositories share: the unit of work's session (which they never commit) and
the bound parameters of the statements they build once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter


class SessionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name


# The statements that run for every page of a poll are built once, with these parameters:
# building and hashing a statement anew costs about as much CPU as running it.
CONNECTION_ID: BindParameter[Any] = bindparam("conn_id")
ERP_IDS: BindParameter[Any] = bindparam("erp_ids", expanding=True)
