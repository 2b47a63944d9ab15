"""What the history costs a quiet poll: its whole write (connection columns + job release) with
and without the folded event, on PostgreSQL's one-statement path. One round trip either way;
the client CPU per write is the figure that matters (wall time on a shared machine is noise).

    KANGLU_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kanglu_test \
        PYTHONPATH=src python tools/measure_poll_event.py
"""
import statistics, time, sys
from datetime import UTC, datetime, timedelta
from sqlalchemy import create_engine, text
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from tests.integration.sql.conftest import create_schema, drop_schema, postgres_engine_in, private_schema_name
from kanglu.adapters.sql import tables as t
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.domain.connections import ErpConnection, PollProgress
from kanglu.domain.events import ConnectionEvent
from kanglu.domain.jobs import JobKey, JobKind, JobRelease
from kanglu.domain.merchants import Merchant
from kanglu.domain.secrets import Sealed

schema = private_schema_name("bench_event")
create_schema(schema)
engine = postgres_engine_in(schema)
try:
    t.metadata.create_all(engine)
    uow = SqlUnitOfWorkFactory(engine)
    NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
    with uow() as u:
        m = Merchant("L", "l@x", "x", NOW); u.merchants.add(m); u.flush()
        c = ErpConnection(merchant_id=m.id, client_id="c", client_secret=Sealed("gAAAA"), updated_at=NOW)
        u.connections.add(c); u.flush()
        u.jobs.schedule(JobKind.POLL, c.id, NOW)
        u.commit()
        cid = c.id
    with uow() as u:
        u.jobs.claim("w", NOW, timedelta(days=1), 1); copy = u.connections.get(cid); u.commit()
    cpu = {}
    def run(n, with_event):
        start = time.perf_counter(); cpu0 = time.process_time()
        for i in range(n):
            at = NOW + timedelta(seconds=i)
            copy.finish_poll(PollProgress(at, at, 0), at)
            ev = ConnectionEvent.poll(cid, at, imported=0, updated=0, failed=0, api_calls=1) if with_event else None
            with uow.one_statement() as u:
                u.connections.save_poll(copy, JobRelease(JobKey(JobKind.POLL, cid), "w", at), ev)
                u.commit()
        cpu.setdefault(with_event, []).append((time.process_time() - cpu0) / n * 1e6)
        return (time.perf_counter() - start) / n * 1e6
    run(300, True); run(300, False)
    res = {True: [], False: []}
    cpu.clear()
    for _ in range(11):
        for flag in (False, True):
            res[flag].append(run(1000, flag))
    for flag in (False, True):
        xs = sorted(res[flag])
        cs = sorted(cpu[flag])
        print(f"with_event={flag}: wall median {statistics.median(xs):.0f} us/write (min {xs[0]:.0f}, max {xs[-1]:.0f}); client CPU median {statistics.median(cs):.0f} us (min {cs[0]:.0f}, max {cs[-1]:.0f}); 11 runs x 1000")
finally:
    engine.dispose()
    drop_schema(schema)
