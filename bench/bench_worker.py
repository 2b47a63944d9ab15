"""Polls per second one `kanglu worker` process sustains in the steady state (every connection
already imported, every poll due, nothing new in Tiny: the common case), at concurrency 1 (the
baseline, same run), 8, 32 and 64, on SQLite and PostgreSQL; with the CPU each poll costs the
worker, its peak memory, the Tiny API calls per poll and the duplicate polls (must be 0).

    python bench/bench_worker.py [--connections 500] [--orders 5] [--concurrency 1 8 32 64]
                                 [--latency-ms 0 100] [--processes 2] [--max-seconds 10]
                                 [--runs 3] [--mixed-share 0.2] [--postgres-url URL] [--profile]

The worker issue's figure: `--connections 2000 --latency-ms 50`. Every pass runs `--runs` times
and is reported as medians with their spread (steady_pass says how its window is kept honest).
`--mixed-share` adds a mixed pass at the highest concurrency: that share of the accounts gets a
new order first, so those polls import it. `--processes 2` adds a pass with two worker
processes on the same box (at the highest concurrency, or on PostgreSQL the highest whose
connections fit its max_connections): one process is bound to one core by the GIL, and several
workers is how Kanglu scales out.

The sandbox runs as its own process with rate limits off (it must not share the worker's GIL);
the worker is the real CLI (`python -m kanglu worker`), its CPU and peak RSS read from /proc,
its polls from its own Prometheus counters. `--profile` also runs one steady-state pass in this
process under cProfile (the worker's own job path, one thread) and reports where the CPU of a
poll goes. Each series runs with --latency-ms added to every API call (a real Tiny is 50-100 ms
or more away: what threads are for). The target (the worker issue): at least 200 polls/s in
under 200 MB from one process, which keeps 10,000 merchants fresh at a 60-second interval
(167/s); issue 20 asks 250/s at concurrency 64. PostgreSQL runs when --postgres-url,
KANGLU_BENCH_POSTGRES_URL or KANGLU_TEST_POSTGRES_URL is given (a private schema, dropped
afterwards). KANGLU_BENCH_SRC runs another tree's worker (A/B). Writes
bench/results/bench_worker.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from typing import Any
from datetime import UTC, datetime
from pathlib import Path

from results_data import shown, spread
from sql_bench_data import machine, postgres_url, write_result
from worker_bench_data import (
    Deployment,
    WorkerProcess,
    cpu_seconds,
    database_url,
    deployment,
    machine_busy,
    memory_mb,
    sandbox_process,
)

TARGET_POLLS_PER_S = 200
TARGET_RSS_MB = 200


def warm_up(d: Deployment, connections: int) -> dict[str, object]:
    """The first import of every connection (not measured as steady state, reported)."""
    started = time.monotonic()
    worker = WorkerProcess.start(d, concurrency=32, once=True, label="import")
    worker.wait(timeout=900)
    seconds = time.monotonic() - started
    orders = d.scalar("SELECT count(*) FROM orders")
    imported = d.scalar("SELECT count(DISTINCT connection_id) FROM orders")
    cursors = d.scalar("SELECT count(*) FROM erp_connections WHERE poll_cursor IS NOT NULL")
    assert cursors == connections, f"only {cursors} of {connections} connections completed their first poll"
    return {"seconds": round(seconds, 1), "orders_stored": orders, "connections_with_orders": imported}


def steady_pass(d: Deployment, concurrency: int, connections: int, max_seconds: float,
                processes: int = 1, new_orders_share: float = 0.0, seed: int = 0) -> dict[str, object]:
    """One measured pass: `processes` worker processes (one by default) started idle, then
    every poll made due, and the pass measured until every connection was polled once (or
    max_seconds).

    The window cannot flatter. Nothing is due while the workers start (what an earlier,
    cut-off pass left due is parked first, so no leftover is polled, let alone counted), the
    clock and the CPU reading start *before* the one statement that makes the polls due, and
    the polls counted are those the workers' own counters saw complete by the moment the
    clock stops: every one of them started and finished inside the window, and the CPU is
    read over that same window (a poll still running at the end adds CPU, never a poll: the
    figure errs low). Duplicate polls (a connection polled twice in one pass) are counted
    from the database once the workers have stopped; they must be 0.

    `new_orders_share` > 0 makes it a mixed pass: that share of the accounts gets a new
    order (with its nota) just before, so those polls import it, not only re-list."""
    d.park_polls()
    accounts_with_news = d.add_orders(new_orders_share, seed=seed) if new_orders_share else 0
    d.sandbox.reset_counters()
    workers = [WorkerProcess.start(d, concurrency=concurrency, label=f"steady{n}") for n in range(processes)]
    try:
        for worker in workers:
            worker.wait_started()
        cpu = lambda: sum(cpu_seconds(w.pid) for w in workers)  # noqa: E731
        before, calls_before = all_polls(workers), d.sandbox.api_calls()["total"]
        opened = d.container.core.clock().now()
        t0, cpu0, sandbox0, busy0 = time.monotonic(), cpu(), cpu_seconds(d.sandbox.pid), machine_busy()
        d.polls_due_now()  # one statement, inside the window: no worker sees a due poll before it commits
        while True:
            time.sleep(0.05)
            polls = all_polls(workers)
            if sum(polls.values()) - sum(before.values()) >= connections or time.monotonic() - t0 >= max_seconds:
                break
        t1, cpu1, sandbox1, busy1 = time.monotonic(), cpu(), cpu_seconds(d.sandbox.pid), machine_busy()
        polls = {outcome: count - before.get(outcome, 0) for outcome, count in polls.items()}
        calls = d.sandbox.api_calls()
        memory = max((memory_mb(w.pid) for w in workers), key=lambda m: m["peak_rss_mb"])
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0] * processes, f"workers exited {codes}:\n{workers[0].output()[-3000:]}"
    done = sum(polls.values())
    completed = polls.get("completed", 0)
    # Every completed poll writes its connection's last_sync_at: a connection polled twice in
    # the pass shows as more completed polls (counted by the time the clock stopped) than
    # connections synced since the window opened (counted after the workers stopped, so
    # polls completed after the clock stopped only add connections: duplicates err low by
    # at most those, and a pass that polls each connection once reports 0).
    synced = d.connections_synced_since(opened)
    duplicates = max(0, completed - synced)
    seconds = t1 - t0
    return {
        "concurrency": concurrency,
        "processes": processes,
        "kind": "mixed" if new_orders_share else "quiet",
        "accounts_with_new_orders": accounts_with_news,
        "polls": done,
        "polls_by_outcome": polls,
        "duplicate_polls": duplicates,
        "seconds": round(seconds, 2),
        "polls_per_s": round(done / seconds, 1),
        "worker_cpu_ms_per_poll": round((cpu1 - cpu0) * 1000 / max(1, done), 2),
        # 1.0 = one core: the ceiling of one process (the GIL)
        "worker_cpu_utilisation": round((cpu1 - cpu0) / seconds, 2),
        "sandbox_cpu_ms_per_poll": round((sandbox1 - sandbox0) * 1000 / max(1, done), 2),
        "machine_busy": round((busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 2),  # 1.0 = both cores
        "api_calls": calls["api"],
        "api_calls_per_poll": round((calls["total"] - calls_before) / max(1, done), 3),
        **memory,  # of the process that peaked highest
    }


def fitting_concurrency(d: Deployment, backend: str, processes: int, wanted: int) -> int:
    """The highest concurrency up to `wanted` at which `processes` workers fit PostgreSQL's
    max_connections: each holds concurrency + 2 connections, and this benchmark a few. Two
    workers of 64 threads do not fit the default 100 ("too many clients" fails their polls)."""
    if backend != "postgresql":
        return wanted
    limit = int(d.scalar("SHOW max_connections"))
    return max(1, min(wanted, (limit - 10) // processes - 2))


def all_polls(workers: list[WorkerProcess]) -> dict[str, int]:
    """Polls so far by outcome, all processes together (their own Prometheus counters)."""
    polls: dict[str, int] = {}
    for worker in workers:
        for outcome, count in worker.polls().items():
            polls[outcome] = polls.get(outcome, 0) + count
    return polls


def profile_pass(d: Deployment) -> dict[str, object]:
    """Every poll once more, in this process under cProfile: claim and run each job as a
    worker thread does (Worker._claim, Worker._run), one at a time."""
    from kanglu.entrypoints.containers import build_container
    from kanglu.entrypoints.settings import Settings
    from kanglu.entrypoints.worker import Worker, build_shared_adapters

    d.polls_due_now()
    container = build_container(Settings.from_env(d.env))
    build_shared_adapters(container)
    worker = Worker(uow=container.adapters.uow(), clock=container.core.clock(),
                    handlers=container.use_cases.job_handlers(), ensure_jobs=container.use_cases.ensure_jobs(),
                    concurrency=1)
    profile = cProfile.Profile(time.process_time)  # CPU, not waits (a poll mostly waits on Tiny)
    jobs_run = 0
    cpu = time.process_time()
    profile.enable()
    while jobs := worker._claim(4):
        for job in jobs:
            worker._run(job)
            jobs_run += 1
    profile.disable()
    cpu = time.process_time() - cpu
    container.shutdown_resources()
    stats = pstats.Stats(profile)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]

    def top(key: str, n: int = 10) -> list[dict[str, object]]:
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2 if key == "tottime" else 3], reverse=True)  # type: ignore[attr-defined]
        return [{"function": f"{Path(f).name}:{line}:{name}", "calls": v[1],
                 "ms_per_job": round(v[2 if key == "tottime" else 3] * 1000 / jobs_run, 3),
                 "share": round(v[2 if key == "tottime" else 3] / total, 3)} for (f, line, name), v in rows[:n]]

    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(10)
    print(text.getvalue().split("\n\n", 2)[-1].rstrip())
    return {"jobs": jobs_run, "cpu_ms_per_job_under_cprofile": round(cpu * 1000 / jobs_run, 2),
            "top_by_own_time": top("tottime"), "top_by_cumulative_time": top("cumtime", 40)}


def summarised(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one pass: medians with their spread, the worst duplicate count, and
    every run kept."""
    first = runs[0]
    return {
        "concurrency": first["concurrency"], "processes": first["processes"], "kind": first["kind"],
        "polls_per_s": spread([r["polls_per_s"] for r in runs]),
        "worker_cpu_ms_per_poll": spread([r["worker_cpu_ms_per_poll"] for r in runs], 2),
        "api_calls_per_poll": spread([r["api_calls_per_poll"] for r in runs], 3),
        "machine_busy": spread([r["machine_busy"] for r in runs], 2),
        "duplicate_polls_max": max(r["duplicate_polls"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "runs": runs,
    }


def report(figures: dict[str, Any]) -> None:
    processes = f" x {figures['processes']} processes" if figures["processes"] > 1 else ""
    print(f"    {figures['kind']:>5} concurrency {figures['concurrency']:>2}{processes}: "
          f"{shown(figures['polls_per_s'], ' polls/s')}, "
          f"worker CPU {shown(figures['worker_cpu_ms_per_poll'], ' ms/poll')}, "
          f"{figures['api_calls_per_poll']['median']} calls/poll, machine {figures['machine_busy']['median']:.0%} busy, "
          f"duplicates {figures['duplicate_polls_max']}, peak RSS {figures['peak_rss_mb']} MB", flush=True)


def run_backend(backend: str, workdir: Path, args: argparse.Namespace) -> dict[str, object]:
    with sandbox_process() as sandbox, database_url(backend, workdir, "worker", args.postgres_url) as url, \
            deployment(sandbox, url, workdir, KANGLU_POLL_INTERVAL="120") as d:
        seconds = d.seed(args.connections, args.orders)
        print(f"  seeded {args.connections} connections in {seconds:.1f} s", flush=True)
        first = warm_up(d, args.connections)
        print(f"  first import: {first['orders_stored']} orders in {first['seconds']} s", flush=True)
        series = {}
        for latency in args.latency_ms:
            sandbox.call("PATCH", "/faults", latency_ms=latency)
            print(f"  Tiny latency {latency} ms:", flush=True)
            plan = [(c, 1, 0.0) for c in args.concurrency]
            if args.mixed_share:
                plan.append((max(args.concurrency), 1, args.mixed_share))
            plan += [(fitting_concurrency(d, backend, p, max(args.concurrency)), p, 0.0) for p in args.processes]
            passes = []
            for concurrency, processes, share in plan:
                runs = [steady_pass(d, concurrency, args.connections, args.max_seconds, processes, share, seed=run)
                        for run in range(args.runs)]
                figures = summarised(runs)
                passes.append(figures)
                report(figures)
            base = next((p for p in passes if p["concurrency"] == 1 and p["processes"] == 1), passes[0])
            for p in passes:
                p["speedup_over_concurrency_1"] = round(p["polls_per_s"]["median"] / base["polls_per_s"]["median"], 2)
            series[f"latency_{latency}_ms"] = passes
        sandbox.call("PATCH", "/faults", latency_ms=0)
        profile = profile_pass(d) if args.profile else None
        every = [p for passes in series.values() for p in passes]
        # The target is one process's, on quiet polls, by the median of its runs.
        one_process = [p for p in every if p["processes"] == 1 and p["kind"] == "quiet"]
        best_median = max(p["polls_per_s"]["median"] for p in one_process)
        peak = max(p["peak_rss_mb"] for p in every)
        return {
            "seed_seconds": round(seconds, 1),
            "first_import": first,
            "series": series,
            "highest_median_polls_per_s": best_median,
            "meets_target_200_per_s": best_median >= TARGET_POLLS_PER_S,
            "duplicate_polls": sum(p["duplicate_polls_max"] for p in every),
            "peak_rss_under_200_mb": peak < TARGET_RSS_MB,
            **({"profile": profile} if profile else {}),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--orders", type=int, default=5, help="orders per sandbox account (imported first)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 100],
                        help="latency the sandbox adds to every API call, one series each")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="cap of each measured pass")
    parser.add_argument("--runs", type=int, default=3, help="runs of each pass (medians and spread reported)")
    parser.add_argument("--mixed-share", type=float, default=0.2,
                        help="also a mixed pass at the highest concurrency: this share of accounts gets a new order "
                             "(0: none)")
    parser.add_argument("--processes", type=int, nargs="*", default=[2],
                        help="also run these many worker processes at the highest concurrency (scale-out on one box)")
    parser.add_argument("--postgres-url", default=postgres_url())
    parser.add_argument("--profile", action="store_true", help="also profile a steady-state pass (cProfile)")
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    chosen = args.backends or (["sqlite", "postgresql"] if args.postgres_url else ["sqlite"])
    result: dict[str, object] = {
        "benchmark": "bench_worker",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": {"connections": args.connections, "orders_per_account": args.orders,
                       "concurrency": args.concurrency, "tiny_latency_ms": args.latency_ms,
                       "max_seconds_per_pass": args.max_seconds, "runs": args.runs,
                       "mixed_share": args.mixed_share,
                       "poll_interval": 120, "sandbox": "separate process, rate limit 1,000,000/min per account (never reached)"},
        "target_polls_per_s": TARGET_POLLS_PER_S,
        "target_rss_mb": TARGET_RSS_MB,
    }
    with tempfile.TemporaryDirectory(prefix="kanglu-bench-worker-") as tmp:
        for backend in chosen:
            print(f"{backend}: {args.connections} connections, {args.orders} orders each", flush=True)
            workdir = Path(tmp) / backend
            workdir.mkdir()
            result[backend] = run_backend(backend, workdir, args)
    write_result("bench_worker", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
