"""What the job runner asks of the poll's progress store, and nobody else does.

The runner (JobHandlers and the worker) holds the poll job's lease. A quiet poll's one write
can carry the job's release along, and the connections read with the claim can spare the poll
its first read; the poll itself never hears of either."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from kanglu.domain.connections import ErpConnection
from kanglu.domain.jobs import JobKey


class PollJobLink(Protocol):
    def preload(self, connections: Mapping[int, ErpConnection]) -> None:
        """Connections read with the claim, a moment ago: their poll starts from these."""
        ...

    def drop(self, connection_ids: Iterable[int]) -> None:
        """Claimed polls handed back without running: their preloaded reads go."""
        ...

    def offer_release(self, job: JobKey, owner: str) -> None:
        """The poll about to run holds `job` as `owner`: its completion may hand it back,
        due at its next poll, in the same write."""
        ...

    def released(self, job: JobKey) -> bool | None:
        """After the run (the offer withdrawn): whether the completion handed the job back
        and the lease was still `owner`'s; None when it did not (the runner releases it)."""
        ...
