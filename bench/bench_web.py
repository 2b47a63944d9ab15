"""The web app under load at 100,000 orders: requests per second and latency percentiles of the
order list, a random page, an order's detail, a name search and a number search, on the JSON
API and the HTML page, with 4 and 16 concurrent clients, on SQLite and PostgreSQL; today's code
and a baseline tree (a `git worktree` of an earlier commit) measured in the same run against
the same database.

    python bench/bench_web.py [--orders 100000] [--clients 4 16] [--seconds 5]
                              [--baseline-ref 4b030e7 | --baseline-ref none] [--backends ...]
                              [--cases search_name search_number ...]
    python bench/bench_web.py --quick     # a smoke run (tests/bench/test_benchmarks_run.py)

Each tree is served by gunicorn with 2 sync workers on loopback (`kanglu.entrypoints.web:
create_app()`, as in production), both at once, and measured in turn case by case. The load generator is this process:
one thread and one HTTP client per concurrent client, each sending the next request as soon as
the previous answered (closed loop), for `--seconds` per case after a short warm-up; a request
that does not answer 200 counts as an error. Latencies are client-side, wall clock. The machine
is shared (2 cores for the servers, the database and this generator), so compare the two trees
of one run, not runs of different days. The database is seeded once per backend (the import use
case, pages of 100, the realistic orders of sql_bench_data.py) and served by both trees: the
baseline ignores what the newer schema adds. PostgreSQL runs when KANGLU_BENCH_POSTGRES_URL or
KANGLU_TEST_POSTGRES_URL is set (a private schema, dropped afterwards). Writes
bench/results/bench_web.json.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from results_data import spread
from sql_bench_data import ROOT, OrderFactory, machine, maintain, postgres_url, write_result
from worker_bench_data import database_url

from kanglu.adapters.clock import SystemClock
from kanglu.adapters.crypto import FernetSecretBox
from kanglu.adapters.sql.engine import make_engine
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.commands import CreateMerchantCommand, ImportOrderCommand
from kanglu.application.use_cases.create_merchant import CreateMerchant as CreateMerchantUseCase
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.connections import ConnectionStatus, ErpConnection
from kanglu.domain.secrets import Sealed, Secret

EMAIL, PASSWORD = "bench-web@example.com", "senha-do-benchmark"
PER_PAGE = 20
NAME = "silva"  # about one customer in ten carries it
CASES = ("list_page_1", "list_random_page", "order_detail", "search_name", "search_number")


class _Hasher:
    """Argon2 costs ~50 ms a hash: the password is hashed once, for real (login checks it)."""

    def __init__(self) -> None:
        from kanglu.adapters.passwords import Argon2PasswordHasher

        self._real = Argon2PasswordHasher()

    def hash(self, password: Secret) -> str:
        return self._real.hash(password)

    def verify(self, password_hash: str, password: Secret) -> bool:
        return self._real.verify(password_hash, password)


def seed(url: str, orders: int) -> dict[str, Any]:
    """One merchant with `orders` orders (and the API key the load generator uses)."""
    engine = make_engine(url)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        created = CreateMerchantUseCase(uow=uow, clock=SystemClock(), passwords=_Hasher())(
            CreateMerchantCommand("Loja Benchmark Web", EMAIL, Secret(PASSWORD)))
        merchant_id = created.merchant.id
        with uow() as u:
            connection = ErpConnection(merchant_id=merchant_id, status=ConnectionStatus.CONNECTED, client_id="bench",
                                       client_secret=Sealed("not-a-real-secret"), updated_at=datetime.now(UTC))
            u.connections.add(connection)
            u.commit()
            connection_id = connection.id
        use_case = ImportOrder(uow=uow, clock=SystemClock(), carriers=DEFAULT_REGISTRY)
        factory = OrderFactory(seed=11)
        started = time.monotonic()
        numbers: list[str] = []
        for first in range(1, orders + 1, 1000):
            batch = factory.orders(min(1000, orders + 1 - first), first_id=first)
            numbers += [o.number for o in batch[::50] if o.number]
            for page in range(0, len(batch), 100):
                use_case(ImportOrderCommand(connection_id, batch[page:page + 100]))
            if first % 20_000 == 1:
                maintain(engine)
        maintain(engine, vacuum=True)
        with engine.connect() as c:
            stored = c.exec_driver_sql("SELECT count(*), min(id), max(id) FROM orders").one()
        return {"api_key": created.api_key, "orders": stored[0], "ids": (stored[1], stored[2]), "numbers": numbers,
                "seconds": round(time.monotonic() - started, 1)}
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(tree: Path, env: dict[str, str], workdir: Path, label: str) -> Iterator[str]:
    """`tree`'s web app under gunicorn (2 workers) on a free loopback port; yields its URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (workdir / f"gunicorn-{label}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
         "--log-level", "warning", "kanglu.entrypoints.web:create_app()"],
        env={**env, "PYTHONPATH": str(tree / "src"), "KANGLU_PUBLIC_URL": base},
        stdout=subprocess.DEVNULL, stderr=log, cwd=workdir,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn ({label}) did not start:\n{(workdir / f'gunicorn-{label}.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def session_cookies(base: str) -> httpx.Cookies:
    """Log in through the form, as a browser does (its CSRF token included)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        answer = client.post("/login", data={"email": EMAIL, "password": PASSWORD,
                                             **({"csrf_token": token.group(1)} if token else {})})
        assert answer.status_code in (302, 303), f"login failed: {answer.status_code}"
        return client.cookies


def load(base: str, path_for: Callable[[random.Random], str], clients: int, seconds: float,
         headers: dict[str, str], cookies: httpx.Cookies | None) -> dict[str, Any]:
    """`clients` closed-loop clients for `seconds` (after a warm-up of a second or less)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    warm_up = min(1.0, seconds / 4)
    start = time.monotonic() + warm_up
    stop = start + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, headers=headers, cookies=cookies, timeout=60) as http:
            while (now := time.monotonic()) < stop:
                sent = time.perf_counter()
                status = http.get(path_for(rng)).status_code
                took = time.perf_counter() - sent
                if now >= start:
                    latencies[n].append(took)
                    if status != 200:
                        errors[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(x for per_client in latencies for x in per_client)
    if not every:
        return {"requests": 0, "errors": sum(errors)}

    def pct(p: float) -> float:
        return round(every[min(len(every) - 1, int(p * len(every)))] * 1000, 1)

    return {"requests": len(every), "errors": sum(errors), "req_per_s": round(len(every) / seconds, 1),
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": round(statistics.fmean(every) * 1000, 1)}


def cases(data: dict[str, Any]) -> dict[str, Callable[[random.Random], str]]:
    low, high = data["ids"]
    pages = max(1, data["orders"] // PER_PAGE)
    numbers = data["numbers"]
    return {
        "list_page_1": lambda r: "?page=1",
        "list_random_page": lambda r: f"?page={r.randint(1, pages)}",
        "order_detail": lambda r: f"/{r.randint(low, high)}",
        "search_name": lambda r: f"?q={NAME}",
        "search_number": lambda r: f"?q={r.choice(numbers)}",
    }


def measure_trees(trees: dict[str, Path], envs: dict[str, dict[str, str]], workdir: Path, backend: str, data: dict[str, Any],
                  args: argparse.Namespace, keys: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every tree served at once (an idle server costs nothing), and the trees measured in
    turn **case by case**: a minute when the box is slower (another job, the database writing
    out what the seeding left) falls on both, not on whichever tree went first."""
    figures: dict[str, dict[str, Any]] = {label: {} for label in trees}
    with ExitStack() as stack:
        bases = {label: stack.enter_context(gunicorn(tree, envs[label], workdir, f"{backend[:2]}-{label}"))
                 for label, tree in trees.items()}
        cookies = {label: session_cookies(base) for label, base in bases.items()}
        for surface in ("api", "html"):
            for name, suffix in cases(data).items():
                if args.cases and name not in args.cases:
                    continue
                for clients in args.clients:
                    for label, base in bases.items():
                        prefix, headers, jar = (
                            ("/api/v1/orders", {"Authorization": f"Bearer {keys[label]}"}, None)
                            if surface == "api" else ("/orders", {}, cookies[label]))

                        def path(r: random.Random, suffix: Callable[[random.Random], str] = suffix,
                                 prefix: str = prefix) -> str:
                            return prefix + suffix(r)

                        result = load(base, path, clients, args.seconds, headers, jar)
                        figures[label].setdefault(surface, {}).setdefault(name, {})[f"clients_{clients}"] = result
                        print(f"    {backend[:2]}-{label:<8} {surface:<4} {name:<17} {clients:>2} clients: "
                              f"{result.get('req_per_s', 0):>7} req/s  p50 {result.get('p50_ms')} "
                              f"p95 {result.get('p95_ms')} p99 {result.get('p99_ms')} ms"
                              f"{'  ERRORS ' + str(result['errors']) if result['errors'] else ''}", flush=True)
    return figures


def schema_copy_for(tree: Path, url: str, workdir: Path) -> str:
    """A copy of the seeded SQLite database at `tree`'s newest revision, for a baseline older
    than this tree's schema (a web process refuses, or tries to upgrade, a database at a
    revision it does not know). Downgrading drops only what later revisions added: the seeded
    rows stay."""
    source = Path(url.removeprefix("sqlite:///"))
    copy = workdir / f"baseline-{source.name}"
    shutil.copyfile(source, copy)
    return at_revision_of(tree, f"sqlite:///{copy}")


def at_revision_of(tree: Path, url: str) -> str:
    """`url`'s schema brought back to `tree`'s newest revision; returns `url`."""
    from alembic import command

    from kanglu.adapters.sql.schema import alembic_config

    versions = tree / "src" / "kanglu" / "adapters" / "sql" / "migrations" / "versions"
    known = max(m.group(1) for f in versions.glob("*.py") if (m := re.match(r"(\d{4})_", f.name)))
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), known)
    finally:
        engine.dispose()
    return url


@contextmanager
def baseline_tree(ref: str, workdir: Path) -> Iterator[Path]:
    """`ref` checked out beside this tree (git worktree), removed afterwards."""
    path = workdir / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), ref],
                   check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)


def compare(current: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Current over baseline, req/s and p95, case by case."""
    ratios: dict[str, Any] = {}
    for surface, named in current.items():
        for name, by_clients in named.items():
            for clients, now in by_clients.items():
                before = baseline.get(surface, {}).get(name, {}).get(clients)
                if before and before.get("req_per_s") and now.get("req_per_s"):
                    ratios[f"{surface}.{name}.{clients}"] = {
                        "req_per_s_x": round(now["req_per_s"] / before["req_per_s"], 2),
                        "p95_ms": [before["p95_ms"], now["p95_ms"]],
                    }
    return ratios


def run_backend(backend: str, workdir: Path, args: argparse.Namespace, baseline: Path | None) -> dict[str, Any]:
    with ExitStack() as stack:
        url = stack.enter_context(database_url(backend, workdir, "web", args.postgres_url))
        data = seed(url, args.orders)
        print(f"  seeded {data['orders']} orders in {data['seconds']} s", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KANGLU_")}
        env.update({
            "KANGLU_DATABASE_URL": url, "KANGLU_DATA_DIR": str(workdir / "data"),
            "KANGLU_SECRET_KEY": secrets.token_urlsafe(32), "KANGLU_ENCRYPTION_KEYS": FernetSecretBox.generate_key(),
            "KANGLU_LOG_FORMAT": "json", "KANGLU_LOG_LEVEL": "WARNING",
        })
        (workdir / "data").mkdir(exist_ok=True)
        result: dict[str, Any] = {"orders": data["orders"], "seed_seconds": data["seconds"]}
        trees = {"current": ROOT, **({"baseline": baseline} if baseline else {})}
        envs = {label: env for label in trees}
        keys = {label: data["api_key"] for label in trees}
        if baseline and backend == "sqlite":
            envs["baseline"] = {**env, "KANGLU_DATABASE_URL": schema_copy_for(baseline, url, workdir)}
        elif baseline:
            # PostgreSQL has no cheap copy of a schema: the same orders seeded again (the
            # factory is seeded), in a schema brought back to the baseline's revision.
            copy = stack.enter_context(database_url(backend, workdir, "webbase", args.postgres_url))
            keys["baseline"] = seed(copy, args.orders)["api_key"]
            envs["baseline"] = {**env, "KANGLU_DATABASE_URL": at_revision_of(baseline, copy)}
        measured = measure_trees(trees, envs, workdir, backend, data, args, keys)
        result.update(measured)
        if baseline:
            result["current_over_baseline"] = compare(measured["current"], measured["baseline"])
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per case")
    parser.add_argument("--baseline-ref", default="4b030e7", help="the commit to compare with, or 'none'")
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"])
    parser.add_argument("--cases", nargs="+", choices=CASES, help="only these cases (default: every one)")
    parser.add_argument("--postgres-url", default=postgres_url())
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 orders, 2 clients, 0.1 s, no baseline")
    args = parser.parse_args()
    if args.quick:
        args.orders, args.clients, args.seconds, args.baseline_ref = 300, [2], 0.1, "none"
    chosen = args.backends or (["sqlite", "postgresql"] if args.postgres_url else ["sqlite"])
    result: dict[str, Any] = {
        "benchmark": "bench_web",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": {"orders": args.orders, "clients": args.clients, "seconds_per_case": args.seconds,
                       "baseline_ref": args.baseline_ref, "server": "gunicorn, 2 sync workers, loopback",
                       "load": "closed-loop Python threads (httpx), one per client", "per_page": PER_PAGE,
                       "name_searched": NAME, "cases": list(args.cases or CASES)},
    }
    with tempfile.TemporaryDirectory(prefix="kanglu-bench-web-") as tmp:
        workdir = Path(tmp)
        with (baseline_tree(args.baseline_ref, workdir) if args.baseline_ref != "none" else _nothing()) as baseline:
            for backend in chosen:
                print(f"{backend}: {args.orders} orders", flush=True)
                (workdir / backend).mkdir()
                result[backend] = run_backend(backend, workdir / backend, args, baseline)
    summarise(result, chosen)
    write_result("bench_web", result)
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def summarise(result: dict[str, Any], backends: list[str]) -> None:
    """The acceptance figures at the fewest clients: name search p95 and its speed-up, list
    page 1 p95 (those of the cases measured)."""
    for backend in backends:
        figures = result[backend]
        now = figures["current"]
        clients = min(int(k.split("_")[1]) for named in now["api"].values() for k in named)
        key = f"clients_{clients}"
        summary: dict[str, Any] = {}
        for surface in ("api", "html"):
            summary[surface] = {}
            for case, label in (("search_name", "search_name"), ("search_number", "search_number"),
                                ("list_page_1", "list_page_1")):
                if case not in now[surface]:
                    continue
                measured = now[surface][case][key]
                summary[surface][f"{label}_p95_ms"] = measured.get("p95_ms")
                before = figures.get("baseline", {}).get(surface, {}).get(case, {}).get(key, {})
                if before.get("req_per_s") and measured.get("req_per_s"):
                    summary[surface][f"{label}_req_per_s_x"] = round(measured["req_per_s"] / before["req_per_s"], 2)
        figures["summary_at_clients"] = {"clients": clients, **summary}
        print(f"{backend} at {clients} clients: {summary}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
