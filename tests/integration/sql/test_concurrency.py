"""Concurrency: the per-connection renewal lock across threads, and job leases under four
worker processes claiming from the same table."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.commands import RefreshTokenCommand
from kanglu.application.ports import OAuthClient, TokenGrant
from kanglu.application.use_cases.refresh_token import RenewalOutcome
from kanglu.domain.jobs import JobKind
from kanglu.domain.secrets import Secret
from tests.fakes import FakeOAuth
from tests.integration.sql.helpers import SqlWorld
from tests.integration.sql.job_worker import JOBS, LEASE, crashes, work

# -- the renewal lock ---------------------------------------------------------------------


class SlowOAuth(FakeOAuth):
    """Holds the first renewal inside the token endpoint until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Event()
        self.release = threading.Event()

    def refresh(self, client: OAuthClient, refresh_token: Secret) -> TokenGrant:
        self.inside.set()
        assert self.release.wait(30), "the test never released the renewal"
        return super().refresh(client, refresh_token)


def test_a_second_renewal_forced_by_a_401_waits_then_sees_the_fresh_token(engine: Engine) -> None:
    """The first renewal claims the connection (committed) and calls Tiny with no transaction
    open; a second one, forced by a 401 elsewhere, waits for the claim, then reads the tokens
    the first stored: one refresh call, and the database free for other writers meanwhile."""
    world = SqlWorld(uow=SqlUnitOfWorkFactory(engine), oauth=SlowOAuth(), sleep=time.sleep)
    world.oauth.release.set()
    _, cid = world.connect()
    world.oauth.release.clear()
    world.clock.advance(hours=3, minutes=55)
    results: dict[str, Any] = {}

    def renew(name: str, command: RefreshTokenCommand) -> None:
        results[name] = world.refresh()(command)

    first = threading.Thread(target=renew, args=("first", RefreshTokenCommand(cid)))
    first.start()
    assert world.oauth.inside.wait(10)
    second = threading.Thread(target=renew, args=("second", RefreshTokenCommand(cid, force=True, seen_token_version=1)))
    second.start()
    # While Tiny holds the first renewal, another writer is not blocked by it.
    with world.uow() as u:
        u.connections.lock(cid)
        u.commit()
    time.sleep(0.5)
    assert second.is_alive(), "the second renewal did not wait for the first"
    world.oauth.release.set()
    first.join(10)
    second.join(10)
    assert results["first"].outcome is RenewalOutcome.RENEWED
    assert results["second"].outcome is RenewalOutcome.NOT_DUE  # it read the fresh token
    assert world.oauth.refresh_calls == 1
    with world.uow() as u:
        connection = u.connections.get(cid)
        assert connection.token_version == 2 and connection.renewal_claimed_by is None


def test_a_scheduled_renewal_that_finds_one_under_way_leaves_it_alone(engine: Engine) -> None:
    world = SqlWorld(uow=SqlUnitOfWorkFactory(engine), oauth=SlowOAuth(), sleep=time.sleep)
    world.oauth.release.set()
    _, cid = world.connect()
    world.oauth.release.clear()
    world.clock.advance(hours=3, minutes=55)
    results: dict[str, Any] = {}
    first = threading.Thread(target=lambda: results.update(first=world.refresh()(RefreshTokenCommand(cid))))
    first.start()
    assert world.oauth.inside.wait(10)
    try:
        second = world.refresh()(RefreshTokenCommand(cid))
    finally:
        world.oauth.release.set()
    first.join(10)
    assert second.outcome is RenewalOutcome.RETRY
    assert results["first"].outcome is RenewalOutcome.RENEWED
    assert world.oauth.refresh_calls == 1  # the first's; the second never called Tiny


# -- four workers, one job table ------------------------------------------------------------

def test_four_processes_share_jobs_without_claiming_one_twice_or_losing_any(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    start = datetime.now(UTC) - timedelta(seconds=1)
    with uow() as u:
        for subject in range(1, JOBS + 1):
            u.jobs.schedule(JobKind.POLL, subject, start)
        u.commit()
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    deadline = time.time() + 60
    ready = context.Barrier(4)
    workers = [
        context.Process(target=work, args=(url, f"worker-{n}", deadline, ready, results)) for n in range(4)
    ]
    for process in workers:
        process.start()
    logs = [results.get(timeout=90) for _ in workers]
    for process in workers:
        process.join(10)
    events = [event for log in logs for event in log]

    claims: dict[int, list[tuple[float, str]]] = defaultdict(list)
    finishes: dict[int, list[tuple[str, bool]]] = defaultdict(list)
    for kind, subject, owner, value in events:
        if kind == "claim":
            claims[subject].append((value, owner))
        else:
            finishes[subject].append((owner, value))

    assert sorted(claims) == list(range(1, JOBS + 1))  # every job was run
    for subject, taken in claims.items():
        taken.sort()
        # Never two leases at once: each claim starts after the previous lease expired.
        for (earlier, _), (later, _) in zip(taken, taken[1:], strict=False):
            assert later >= earlier + LEASE.total_seconds() - 1e-6, f"job {subject} claimed twice at once"
        # None lost, none recorded twice: exactly one finish counted.
        assert [ok for _, ok in finishes[subject]].count(True) == 1, f"job {subject}: {finishes[subject]}"
        if crashes(subject, 1):
            assert len(taken) >= 2, f"job {subject}: its expired lease was never claimed again"
    # A stalled worker whose lease was taken over records nothing.
    lost = [(s, owner) for s, results_ in finishes.items() for owner, ok in results_ if not ok]
    for subject, owner in lost:
        assert any(other != owner for _, other in claims[subject])
    assert len({owner for log in logs for _, _, owner, _ in log}) == 4  # all four took part
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(t.jobs)) == 0
