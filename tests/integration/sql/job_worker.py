"""A worker process for the concurrency test: claims jobs, "runs" them, finishes them, and
reports what it did. Kept apart from the test module so that spawned processes import little."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory

JOBS = 120
LEASE = timedelta(seconds=0.4)


def crashes(subject_id: int, attempts: int) -> bool:
    """A worker dies holding these jobs the first time: nobody finishes them, leases expire."""
    return subject_id % 9 == 0 and attempts == 1


def stalls(subject_id: int, attempts: int) -> bool:
    """A worker is too slow with these the first time: its lease expires before it finishes."""
    return subject_id % 40 == 0 and attempts == 1


def work(url: str, owner: str, deadline: float, ready: Any, results: Any) -> None:
    """One worker process: claim, 'run', finish; report everything it did."""
    engine = make_engine(url)
    uow = SqlUnitOfWorkFactory(engine)
    log: list[tuple[Any, ...]] = []
    ready.wait(60)  # all four start together, however slowly each process came up
    try:
        while time.time() < deadline:
            now = datetime.now(UTC)
            with uow() as u:
                jobs = u.jobs.claim(owner, now, LEASE, 4)
                u.commit()
            if not jobs:
                with engine.connect() as connection:
                    if not connection.scalar(select(func.count()).select_from(t.jobs)):
                        break
                time.sleep(0.05)
                continue
            for job in jobs:
                log.append(("claim", job.subject_id, owner, now.timestamp()))
                if crashes(job.subject_id, job.attempts):
                    continue
                time.sleep(LEASE.total_seconds() + 0.3 if stalls(job.subject_id, job.attempts) else 0.003)
                with uow() as u:
                    finished = u.jobs.finish(job, owner, None)
                    u.commit()
                log.append(("finish", job.subject_id, owner, finished))
    finally:
        engine.dispose()
        results.put(log)
