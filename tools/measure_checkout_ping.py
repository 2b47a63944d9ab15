"""What the web's ping at every checkout costs on PostgreSQL (issue 19), against the worker's
idle-bound ping: microseconds per pool checkout, median of 7 runs of 2,000 checkouts.

    KANGLU_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/kanglu_test python tools/measure_checkout_ping.py
"""

from __future__ import annotations

import os
import statistics, time
from sqlalchemy import text
from kanglu.adapters.sql.engine import make_engine, ping_on_every_checkout
URL = os.environ.get("KANGLU_BENCH_POSTGRES_URL") or os.environ["KANGLU_TEST_POSTGRES_URL"]
def run(ping):
    e = make_engine(URL)
    if ping: ping_on_every_checkout(e)
    with e.connect() as c: c.execute(text("SELECT 1"))
    res = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(2000):
            with e.connect() as c:
                pass
        res.append((time.perf_counter() - t0) / 2000 * 1e6)
    e.dispose()
    return res
for ping in (False, True):
    r = run(ping)
    print("ping" if ping else "idle-bound", f"median {statistics.median(r):.1f} us per checkout, min {min(r):.1f}, max {max(r):.1f}")
