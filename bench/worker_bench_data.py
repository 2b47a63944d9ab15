"""Shared by the worker benchmarks (bench_worker.py, bench_freshness.py): the Tiny sandbox as
its own process, a database (SQLite file or private PostgreSQL schema), many connections seeded
through the use cases, and `kanglu worker` as a real process whose CPU and memory are read from
/proc. Not a benchmark itself.

Connecting thousands of accounts through the browser flow is slow, so the seeding takes the
sandbox's shortcuts (`POST /_sandbox/accounts {"count": N}` and `/tokens`) and then stores each
connection the way CompleteConnectErp does after its code exchange: merchant and credentials
through their use cases, tokens sealed by the secret box, the first poll and the renewal
scheduled through the job repository. No secret is ever written in plaintext.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx

from sql_bench_data import ROOT, SRC, postgres_url

sys.path.insert(1, str(ROOT))  # tests/ is a package: the E2E harness's deployment_env is reused

from sqlalchemy import func, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from kanglu.adapters.sql.engine import make_engine  # noqa: E402
from kanglu.adapters.sql.schema import upgrade_to_head  # noqa: E402
from kanglu.adapters.sql.tables import erp_connections, jobs  # noqa: E402
from kanglu.application.commands import CreateMerchantCommand, SaveErpCredentialsCommand  # noqa: E402
from kanglu.application.ports import TokenGrant  # noqa: E402
from kanglu.application.tokens import seal_grant  # noqa: E402
from kanglu.domain.jobs import JobKind  # noqa: E402
from kanglu.domain.secrets import Secret  # noqa: E402
from kanglu.entrypoints.containers import Container, build_container  # noqa: E402
from kanglu.entrypoints.settings import Settings  # noqa: E402
from tests.e2e.worker.harness import deployment_env, free_port  # noqa: E402

# The sandbox and the workers run the code sql_bench_data chose (KANGLU_BENCH_SRC: another
# tree's, for an A/B of the worker with the same benchmark).
PYTHONPATH = os.pathsep.join([SRC, str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
CLK_TCK = os.sysconf("SC_CLK_TCK")
UNREACHED_RATE_LIMIT = 1_000_000  # calls per minute per account
ENVIADA = 5  # the situação of new orders the benchmarks create: imported and tracked


# -- processes read from /proc -------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def memory_mb(pid: int) -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = {k: int(v) / 1024 for k, v in re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", status, re.MULTILINE)}
    return {"peak_rss_mb": round(values["VmHWM"], 1), "rss_mb": round(values["VmRSS"], 1)}


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    numbers = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = numbers[3] + numbers[4]  # idle + iowait
    return sum(numbers) - idle, sum(numbers)


# -- the sandbox -----------------------------------------------------------------------------

@attrs.define
class Sandbox:
    """`python -m kanglu.sandbox` in its own process (it must not share the worker's GIL or
    the benchmark's), with a rate limit never reached: the figures are Kanglu's, not Tiny's
    budget. Not `--rate-limit 0`: an unlimited sandbox account sends no X-RateLimit-* headers,
    which real Tiny always sends, and without them Kanglu's pacer falls back to one call a
    second per account (the first import of 1,000 accounts would take minutes)."""

    process: subprocess.Popen[str]
    api_url: str
    auth_url: str
    base_url: str
    http: httpx.Client

    @classmethod
    def start(cls, *extra: str) -> Sandbox:
        process = subprocess.Popen(
            [sys.executable, "-m", "kanglu.sandbox", "--port", "0", "--orders", "1", "--rate-limit", str(UNREACHED_RATE_LIMIT), "--burst", "0",
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONPATH": PYTHONPATH},
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox did not start (exit {process.wait()})")
        creds = json.loads(line)
        base = creds["api_url"].split("/public-api/")[0]
        return cls(process, creds["api_url"], creds["auth_url"], base, httpx.Client(base_url=base + "/_sandbox",
                                                                                    timeout=120))

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, method: str, path: str, **json_body: Any) -> Any:
        answer = self.http.request(method, path, json=json_body or None)
        answer.raise_for_status()
        return answer.json()

    def api_calls(self) -> dict[str, Any]:
        return self.call("GET", "/counters")["global"]

    def reset_counters(self) -> None:
        self.call("DELETE", "/counters")

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def sandbox_process(*extra: str) -> Iterator[Sandbox]:
    sandbox = Sandbox.start(*extra)
    try:
        yield sandbox
    finally:
        sandbox.stop()


# -- the database ----------------------------------------------------------------------------

@contextmanager
def database_url(backend: str, workdir: Path, name: str, pg_url: str | None = None) -> Iterator[str]:
    """A migrated, empty database's URL: a SQLite file, or a private PostgreSQL schema dropped
    afterwards."""
    if backend == "sqlite":
        for leftover in workdir.glob(f"{name}.sqlite3*"):
            leftover.unlink()
        url = f"sqlite:///{workdir / f'{name}.sqlite3'}"
        upgrade_to_head(url)
        yield url
        return
    base = pg_url or postgres_url()
    assert base, "no PostgreSQL URL"
    schema = f"kanglu_bench_{name}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# -- a deployment: settings, container, connections -----------------------------------------

@attrs.define
class Deployment:
    sandbox: Sandbox
    env: dict[str, str]
    container: Container
    workdir: Path
    connections: dict[int, str] = attrs.field(factory=dict)  # connection id -> sandbox account id

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.container.adapters.engine().connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.container.adapters.engine().connect() as connection:
            return list(connection.execute(text(sql), params))

    def seed(self, count: int, orders: int, seed: int = 1000) -> float:
        """`count` connected connections, each on its own sandbox account with `orders`
        orders; returns the seconds it took."""
        started = time.monotonic()
        accounts = self.sandbox.call("POST", "/accounts", count=count, orders=orders, seed=seed)
        accounts = accounts["accounts"] if "accounts" in accounts else [accounts]
        use_cases = self.container.use_cases
        create_merchant, save_credentials = use_cases.create_merchant(), use_cases.save_credentials()
        core = self.container.core
        box, clock, margin = core.secret_box(), core.clock(), core.renewal_margin()
        uow = self.container.adapters.uow()
        for account in accounts:
            merchant = create_merchant(CreateMerchantCommand(f"Loja {account['account_id']}",
                                                      f"loja-{account['account_id']}@example.com", None))
            merchant_id = merchant.merchant.id
            connection = save_credentials(SaveErpCredentialsCommand(
                merchant_id, account["client_id"], Secret(account["client_secret"]), account["invite_link"]))
            tokens = self.sandbox.call("POST", f"/accounts/{account['account_id']}/tokens")
            grant = TokenGrant(Secret(tokens["access_token"]), Secret(tokens["refresh_token"]),
                               int(tokens["expires_in"]), tokens.get("refresh_expires_in"))
            # What CompleteConnectErp does once the code is exchanged.
            with uow() as u:
                stored = u.connections.lock(connection.id)
                assert stored is not None and stored.id is not None
                now = clock.now()
                stored.complete_authorization(seal_grant(box, grant, now), account.get("account_name"), now)
                u.jobs.schedule(JobKind.POLL, stored.id, now)
                u.jobs.schedule(JobKind.RENEW_TOKEN, stored.id, stored.renewal_due_at(margin) or now)
                u.commit()
                self.connections[stored.id] = account["account_id"]
        return time.monotonic() - started

    def polls_due_now(self) -> None:
        """Every connection's poll is due: the worker finds a full queue. One statement (it
        was one upsert per connection: 2,000 round trips that a running worker overlapped)."""
        self._set_poll_due(self.container.core.clock().now())

    def park_polls(self) -> None:
        """No poll is due for a day: what a cut-off pass left due is not polled by the next
        pass's workers before its window opens (the leftovers are dropped, not counted)."""
        self._set_poll_due(self.container.core.clock().now() + timedelta(days=1))

    def _set_poll_due(self, due: datetime) -> None:
        with self.container.adapters.engine().begin() as connection:
            connection.execute(update(jobs).where(jobs.c.kind == JobKind.POLL)
                               .values(due_at=due, lease_owner=None, lease_expires_at=None))

    def connections_synced_since(self, since: datetime) -> int:
        """Connections whose last completed poll finished at or after `since`."""
        with self.container.adapters.engine().connect() as connection:
            return int(connection.execute(select(func.count()).select_from(erp_connections)
                                          .where(erp_connections.c.last_sync_at >= since)).scalar_one())

    def add_orders(self, share: float, orders: int = 1, seed: int = 0) -> int:
        """New orders (Enviada, with a nota) on `share` of the accounts, through the sandbox's
        control API: the next poll of those connections imports them. Returns how many
        accounts got some."""
        rng = random.Random(seed)
        accounts = [a for a in self.connections.values() if rng.random() < share]
        for account in accounts:
            self.sandbox.call("POST", f"/accounts/{account}/orders", count=orders, situacao=ENVIADA)
        return len(accounts)


@contextmanager
def deployment(sandbox: Sandbox, database: str, workdir: Path, **settings: str) -> Iterator[Deployment]:
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = deployment_env(database_url=database, data_dir=data_dir, sandbox=sandbox, **settings)  # type: ignore[arg-type]
    env["PYTHONPATH"] = PYTHONPATH
    container = build_container(Settings.from_env(env))
    try:
        yield Deployment(sandbox=sandbox, env=env, container=container, workdir=workdir)
    finally:
        container.shutdown_resources()


# -- the worker ------------------------------------------------------------------------------

@attrs.define
class WorkerProcess:
    """`python -m kanglu worker` (forever, or --once), its log in a file, metrics on a port."""

    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    @classmethod
    def start(cls, deployment: Deployment, *, concurrency: int, once: bool = False, label: str = "worker",
              env: dict[str, str] | None = None) -> WorkerProcess:
        port = free_port()
        log = deployment.workdir / f"{label}-{concurrency}-{int(time.time() * 1000)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "kanglu", "worker", "--concurrency", str(concurrency),
                 *(["--once"] if once else [])],
                env={**deployment.env, "KANGLU_METRICS_PORT": str(port), **(env or {})},
                stdout=out, stderr=subprocess.STDOUT,
            )
        return cls(process, log, port)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_started(self, timeout: float = 60) -> None:
        """Until the log says "worker started" (imports, settings and EnsureJobs are done)."""
        deadline = time.monotonic() + timeout
        while '"worker started"' not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited {self.process.returncode}:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + self.output()[-3000:])
            time.sleep(0.01)

    def metrics(self) -> dict[str, float]:
        """The worker's own Prometheus counters, as {"name{labels}": value}."""
        answer = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10)
        answer.raise_for_status()
        values = {}
        for line in answer.text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def polls(self) -> dict[str, int]:
        return {
            re.search(r'outcome="([^"]+)"', k).group(1): int(v)  # type: ignore[union-attr]
            for k, v in self.metrics().items() if k.startswith("kanglu_polls_total{")
        }

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        if code != 0:
            raise RuntimeError(f"worker exited {code}:\n{self.output()[-3000:]}")
        return code
