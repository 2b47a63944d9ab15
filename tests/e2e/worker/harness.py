"""One Kanglu deployment for worker tests: a database (SQLite file or a private PostgreSQL
schema), the Tiny sandbox on a real port, and `kanglu worker` run as real processes.

Connections are made the way a merchant makes them (credentials saved, authorize URL, consent
answered on the sandbox, callback completed by the use case), so a worker meets exactly what
production gives it. The test process keeps its own container on the same settings to seed
and to read the database.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import argon2
import attrs
import httpx
from dependency_injector import providers
from sqlalchemy import text

from kanglu.adapters.crypto import FernetSecretBox
from kanglu.adapters.passwords import Argon2PasswordHasher
from kanglu.adapters.sql.schema import upgrade_to_head
from kanglu.application.commands import BeginConnectErpCommand, CompleteConnectErpCommand, CreateMerchantCommand, SaveErpCredentialsCommand
from kanglu.domain.secrets import Secret
from kanglu.domain.situacoes import DEFAULT_ACTIONS
from kanglu.entrypoints.containers import Container, build_container
from kanglu.entrypoints.settings import CALLBACK_PATH, Settings
from kanglu.sandbox.accounts import Account
from kanglu.sandbox.server import SandboxServer

PUBLIC_URL = "http://127.0.0.1:8000"
# A new connection's status mapping: every situação it does not ignore is imported.
MAPPED_SITUACOES = frozenset(int(s) for s in DEFAULT_ACTIONS)


def importable_ids(truth: Iterable[Mapping[str, Any]]) -> set[int]:
    """The Tiny order ids a first import brings in, from the sandbox's own view (`truth`):
    those in a situação the default mapping does not ignore, defective ones included (a field
    defect is a warning, never a dropped order), and not a point-of-sale (PDV) sale (not
    imported by default)."""
    return {o["id"] for o in truth if o["situacao"] in MAPPED_SITUACOES and not o.get("origemPedido")}


@attrs.define
class Deployment:
    sandbox: SandboxServer
    env: dict[str, str]
    container: Container
    logs: Path
    # One client for every call to the sandbox's control API: httpx.get() and the like build a
    # client, and with it an SSL context (~25 ms of CPU each), per call; the scale-out test alone
    # made 400 such calls.
    http: httpx.Client
    _runs: int = 0
    # The API key of each connection's merchant (shown once at creation), for JSON API reads.
    api_keys: dict[int, str] = attrs.Factory(dict)

    # -- merchants -------------------------------------------------------------------------

    @property
    def control(self) -> str:
        return f"{self.sandbox.base_url}/_sandbox"

    def new_account(self, *, orders: int = 50, seed: int | None = None, **options: Any) -> Account:
        """A Tiny account on the sandbox whose registered redirect URL is this deployment's."""
        # A generous plan unless the test says otherwise (120 a minute, no burst bucket: the sandbox's
        # default before it became Tiny's smallest plan); tests about limits choose their own.
        settings = {"redirect_uri": PUBLIC_URL + CALLBACK_PATH, "app_name": "Kanglu", "rate_limit": 120, "burst": 0,
                    **options.pop("settings", {})}
        return self.sandbox.create_account(orders=orders, seed=seed, settings=settings, **options)

    def connect(self, account: Account, *, email: str | None = None) -> int:
        """A merchant connects `account` as in the browser; returns the connection id."""
        use_cases = self.container.use_cases
        email = email or f"loja-{account.id}@example.com"
        merchant = use_cases.create_merchant()(CreateMerchantCommand(f"Loja {account.id}", email, Secret("senha-segura-1")))
        merchant_id = merchant.merchant.id
        creds = self.sandbox.credentials(account)
        use_cases.save_credentials()(
            SaveErpCredentialsCommand(merchant_id, creds["client_id"], Secret(creds["client_secret"]), creds["invite_link"])
        )
        authorize_url = use_cases.connect_erp().begin(BeginConnectErpCommand(merchant_id))
        answer = self.http.post(f"{self.control}/consent", json={"authorize_url": authorize_url}, timeout=10)
        answer.raise_for_status()
        query = parse_qs(urlsplit(answer.json()["location"]).query)
        connection = use_cases.connect_erp().complete(CompleteConnectErpCommand(state=query["state"][0], code=query["code"][0]))
        assert connection.id is not None and connection.status.value == "connected", connection.last_error
        self.api_keys[connection.id] = merchant.api_key
        return connection.id

    # -- workers ---------------------------------------------------------------------------

    def _command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kanglu", "worker", *args]

    def _log_file(self, label: str) -> Path:
        self._runs += 1
        return self.logs / f"{self._runs:03d}-{label}.log"

    def run_once(self, *, concurrency: int = 4, timeout: float = 240, env: Mapping[str, str] | None = None) -> str:
        """`kanglu worker --once`; asserts exit 0 and returns its log."""
        log = self._log_file("once")
        with log.open("w") as out:
            done = subprocess.run(
                self._command("--once", "--concurrency", str(concurrency)),
                env={**self.env, **(env or {})}, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False,
            )
        output = log.read_text()
        assert done.returncode == 0, f"worker --once exited {done.returncode}:\n{output[-4000:]}"
        return output

    def start_worker(
        self, *, concurrency: int = 4, env: Mapping[str, str] | None = None, once: bool = False
    ) -> WorkerProcess:
        """`kanglu worker` (forever, or `--once` when several passes must race) in the background."""
        log = self._log_file("once" if once else "worker")
        out = log.open("w")
        process = subprocess.Popen(
            self._command(*(["--once"] if once else []), "--concurrency", str(concurrency)),
            env={**self.env, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
        )
        out.close()
        return WorkerProcess(process, log)

    # -- the database ----------------------------------------------------------------------

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.container.adapters.engine().connect() as connection:
            return list(connection.execute(text(sql), params))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.container.adapters.engine().connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def orders_of(self, connection_id: int) -> list[Any]:
        return self.rows("SELECT * FROM orders WHERE connection_id = :id ORDER BY erp_order_id", id=connection_id)

    # -- the sandbox -----------------------------------------------------------------------

    def truth(self, account: Account) -> list[dict[str, Any]]:
        """Every order of `account` as the sandbox knows it (control API)."""
        answer = self.http.get(f"{self.control}/accounts/{account.id}/orders")
        answer.raise_for_status()
        return answer.json()["orders"]

    def sandbox_call(self, method: str, path: str, **json: Any) -> Any:
        answer = self.http.request(method, f"{self.control}{path}", json=json or None)
        answer.raise_for_status()
        return answer.json()

    def counters(self, account: Account) -> dict[str, Any]:
        return self.sandbox_call("GET", f"/accounts/{account.id}/counters")


@attrs.define
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait(self, timeout: float = 240) -> int:
        """Wait for a process that ends on its own (`--once`); returns its exit code."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker did not finish within {timeout} s:\n{self.output()[-4000:]}") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> tuple[int, float]:
        """Send `sig`; returns (exit code, seconds it took to exit)."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"worker did not exit within {timeout} s of {signal.Signals(sig).name}:\n"
                                 f"{self.output()[-4000:]}") from None
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    """A port nothing listens on now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CHEAP_PASSWORDS = Argon2PasswordHasher(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def wait_until(condition: Callable[[], Any], *, timeout: float = 60, every: float = 0.2, what: str = "") -> Any:
    """Poll `condition` until it returns something truthy (its value), or fail saying `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(every)


def deployment_env(*, database_url: str, data_dir: Path, sandbox: SandboxServer, **settings: str) -> dict[str, str]:
    """What an operator would export: every KANGLU_* setting the worker needs, nothing from the
    test process's own environment but PATH and the like."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("KANGLU_")}
    return {
        **keep,
        "KANGLU_DATABASE_URL": database_url,
        "KANGLU_DATA_DIR": str(data_dir),
        "KANGLU_SECRET_KEY": secrets.token_urlsafe(32),
        "KANGLU_ENCRYPTION_KEYS": FernetSecretBox.generate_key(),
        "KANGLU_PUBLIC_URL": PUBLIC_URL,
        "KANGLU_TINY_API_URL": sandbox.api_url,
        "KANGLU_TINY_AUTH_URL": sandbox.auth_url,
        "KANGLU_BACKFILL_DAYS": "90",  # the sandbox's orders span 60 days
        # The accounts here have no per-second bucket (burst 0): spacing calls for one would
        # only make each pass wait (a pass that reads 58 invoices slept 15 s).
        "KANGLU_TINY_CALL_INTERVAL": "0.01",
        "KANGLU_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }


@contextmanager
def deployment(
    tmp_path: Path, database_url: str, *, sandbox_options: Mapping[str, Any] | None = None, **settings: str
) -> Iterator[Deployment]:
    """Start the sandbox (no default account), migrate the database, build the test's container."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    with ExitStack() as stack:
        sandbox = SandboxServer(default_account=False, **(sandbox_options or {})).start()
        stack.callback(sandbox.stop)
        env = deployment_env(database_url=database_url, data_dir=data_dir, sandbox=sandbox, **settings)
        upgrade_to_head(database_url)
        container = build_container(Settings.from_env(env))
        # Real Argon2 at its lowest cost: each `connect` creates a merchant, and the default cost
        # (~0.2 s of CPU a hash here) bought nothing a worker test looks at. The hashes still
        # verify at the login page, which reads the cost from the hash.
        container.core.passwords.override(providers.Object(CHEAP_PASSWORDS))
        stack.callback(container.shutdown_resources)
        http = stack.enter_context(httpx.Client(timeout=30))
        yield Deployment(sandbox=sandbox, env=env, container=container, logs=logs, http=http)
