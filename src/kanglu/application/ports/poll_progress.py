"""The poll's progress: what a poll reads when it starts and writes after each page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from kanglu.domain.connections import ErpConnection
from kanglu.domain.events import ConnectionEvent
from kanglu.domain.orders import StoredOrder
from kanglu.domain.situacoes import StatusMapping


@attrs.frozen
class StoredPage:
    """What is stored about a page's orders before they are imported, in one read."""

    mapping: StatusMapping
    families: Mapping[int, int | None]  # the connection's cached shipping families
    orders: Mapping[int, StoredOrder]  # the page's orders already stored: signatures and invoices
    failing: frozenset[int]  # the page's orders with an open import failure
    carrier_mappings: Mapping[str, str]  # the merchant's own shipping service -> carrier choices


class PollProgressStore(Protocol):
    """Where PollOrdersByStatus keeps how far it got. Every poll of every connection comes
    through here, most of them finding nothing new: the adapter writes each step as cheaply as
    its database allows. A step writes only the poll's own columns of the copy `start` gave:
    a token renewed or a status changed meanwhile is kept, and so is an error that is not the
    poll's."""

    def start(self, connection_id: int) -> ErpConnection | None:
        """The connection as the poll starts: its window, its token, its settings. A copy the
        poll keeps for its whole run (not read again page by page)."""
        ...

    def stored_page(
        self, connection: ErpConnection, erp_ids: Sequence[int], families: Mapping[int, int | None] | None
    ) -> StoredPage:
        """One read for a page that lists orders: the status mapping, those orders already
        stored and their open failures, the merchant's carrier choices, and the cached
        shipping families unless `families` (read with an earlier page) is given. Enough to
        tell a page that changes nothing without a write."""
        ...

    def checkpoint(self, connection: ErpConnection, event: ConnectionEvent | None = None) -> None:
        """A page was read (its orders already imported): remember the window in progress
        (`connection.poll_progress()`), so a poll that fails resumes from the next page.
        `event`: the run's row of the history, when the run stops here."""
        ...

    def complete(self, connection: ErpConnection, event: ConnectionEvent, next_poll_at: datetime) -> None:
        """The window was read to the end (`connection.finish_poll` was called): the cursor,
        the last sync, the poll's own error cleared, the run's row of the history, and when
        the next poll is due."""
        ...

    def fail(self, connection_id: int, reason: str, at: datetime) -> None:
        """The poll stopped on a failure worth telling the merchant (its error, kind POLL)."""
        ...
