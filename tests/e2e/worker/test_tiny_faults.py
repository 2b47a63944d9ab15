"""Tiny misbehaving under a real `kanglu worker --once`, each fault with its final state asserted.

Every test runs several connections in one deployment: the faulty one and healthy ones. The
healthy ones are fully imported in the same run whatever the faulty one suffers; the faulty one
ends in a state we can name (its poll job rescheduled with the reason, its connection connected
or, for a revoked authorisation, disconnected), the sandbox's counters show the worker did not
hammer Tiny, and a later run finishes the work exactly once. No worker log line carries a
client secret, an access or refresh token, or a customer's CPF/CNPJ.
"""

from __future__ import annotations

import json

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from kanglu.adapters.sql.types import UtcDateTime
from kanglu.domain.secrets import Sealed
from kanglu.domain.situacoes import INVOICED_SITUACOES
from tests.e2e.worker.harness import MAPPED_SITUACOES, Deployment, importable_ids, wait_until

ORDERS = 20  # one page per account: small, fast, and enough to tell "all" from "none"

pytestmark = pytest.mark.timeout(240)


# -- what the sandbox says should be imported ----------------------------------------------------


def defective(truth: list[dict[str, Any]]) -> dict[int, str]:
    """Spoilt orders Kanglu can see as such, with their defect. A bad CPF/CNPJ or tracking code
    is in the listing whatever the situação; a bad access key only in the invoice, which is
    fetched for the invoiced situações the mapping imports."""
    invoiced = {int(s) for s in INVOICED_SITUACOES} & MAPPED_SITUACOES
    return {
        o["id"]: o["malformed"] for o in truth
        if o["malformed"] is not None and o["situacao"] in MAPPED_SITUACOES
        and (o["malformed"] != "chave_acesso_invalida" or o["situacao"] in invoiced)
    }


# -- what the database says -------------------------------------------------------------------------


def imported_ids(d: Deployment, connection_id: int) -> set[int]:
    ids = [row.erp_order_id for row in d.orders_of(connection_id)]
    assert len(ids) == len(set(ids)), f"an order was imported twice: {sorted(ids)}"
    return set(ids)


def job(d: Deployment, kind: str, connection_id: int) -> Any:
    rows = d.rows("SELECT * FROM jobs WHERE kind = :kind AND subject_id = :id", kind=kind, id=connection_id)
    return rows[0] if rows else None


def connection(d: Deployment, connection_id: int) -> Any:
    return d.rows("SELECT * FROM erp_connections WHERE id = :id", id=connection_id)[0]


def as_utc(value: Any) -> datetime:
    """A timestamp column as an aware UTC datetime (SQLite hands back naive UTC text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def assert_healthy(d: Deployment, connection_id: int, account: Any) -> None:
    """Fully imported by a completed poll; connected, no error, next poll regular."""
    assert imported_ids(d, connection_id) == importable_ids(d.truth(account))
    row = connection(d, connection_id)
    assert (row.status, row.last_error, row.poll_offset) == ("connected", None, None)
    assert row.poll_cursor is not None and row.last_sync_at is not None
    poll = job(d, "poll", connection_id)
    assert (poll.last_error, poll.attempts, poll.lease_owner) == (None, 0, None)


# A first import lists the backfill's first day, then one page of the next day, which proves
# that Tiny's update filter reaches forward and ends the walk (adapters/tiny/updates.py).
IMPORT_LISTINGS = 2


def api_statuses(d: Deployment, account: Any, endpoint: str = "GET /pedidos") -> dict[str, int]:
    """How the sandbox answered `endpoint` for this account, status -> count."""
    return d.counters(account)["api"].get(endpoint, {}).get("by_status", {})


def count_status(d: Deployment, account: Any, status: str) -> int:
    return d.counters(account)["by_status"].get(status, 0)


def assert_retry_within_a_minute(poll: Any) -> None:
    """A transient failure retries after min(poll interval, 1 min): 60 s in these tests."""
    left = (as_utc(poll.due_at) - datetime.now(UTC)).total_seconds()
    assert 30 < left <= 60, f"the poll is due in {left:.1f} s"


def assert_poll_failed_and_retries(d: Deployment, connection_id: int, reason: str) -> None:
    """A transient failure: still connected, nothing read to the end (no cursor, no page kept),
    the reason shown to the merchant and kept on the job, one attempt, retried within a minute."""
    row = connection(d, connection_id)
    assert (row.status, row.poll_cursor, row.poll_offset) == ("connected", None, None)
    assert row.last_error == f"Sincronização: {reason}"
    poll = job(d, "poll", connection_id)
    assert (poll.last_error, poll.attempts, poll.lease_owner) == (reason, 1, None)
    assert_retry_within_a_minute(poll)


def make_due(d: Deployment, kind: str, connection_id: int) -> None:
    """Time passes for the worker: the job comes due now (the test's stand-in for waiting)."""
    update = text("UPDATE jobs SET due_at = :now WHERE kind = :kind AND subject_id = :id").bindparams(
        bindparam("now", type_=UtcDateTime())
    )
    with d.container.adapters.engine().begin() as db:
        db.execute(update, {"now": datetime.now(UTC) - timedelta(seconds=1), "kind": kind, "id": connection_id})


# -- secrets in logs ----------------------------------------------------------------------------------


class SecretWatch:
    """Everything that must never reach a log line, gathered as the test goes."""

    def __init__(self, d: Deployment) -> None:
        self._d = d
        self.secrets: set[str] = set()
        self.documents: set[str] = set()

    def account(self, account: Any) -> None:
        self.secrets.add(self._d.sandbox.credentials(account)["client_secret"])
        for order in self._d.truth(account):
            cliente = order["pedido"].get("cliente") or {}
            document = cliente.get("cpfCnpj") or ""
            digits = re.sub(r"\D", "", document)
            if len(digits) in (11, 14):  # a full CPF or CNPJ, as Tiny writes it and as digits
                self.documents.update({document, digits})

    def tokens(self) -> None:
        """The tokens stored right now (call before and after each run: a run may renew them)."""
        box = self._d.container.core.secret_box()
        for row in self._d.rows("SELECT access_token, refresh_token FROM erp_connections"):
            for sealed in (row.access_token, row.refresh_token):
                if sealed is not None:
                    self.secrets.add(box.open(Sealed(sealed)).value)

    def run_once(self, **kwargs: Any) -> str:
        self.tokens()
        output = self._d.run_once(**kwargs)
        self.tokens()
        self.check(output)
        return output

    def check(self, output: str) -> None:
        assert self.secrets and self.documents, "nothing gathered: the check below would prove nothing"
        assert output.strip(), "the worker logged nothing"
        for line in output.splitlines():
            for secret in self.secrets:
                assert secret not in line, f"a secret reached the log: {line[:300]}"
            for document in self.documents:
                assert document not in line, f"a CPF/CNPJ reached the log: {line[:300]}"


def connect_all(d: Deployment, watch: SecretWatch, accounts: Iterable[Any]) -> list[int]:
    ids = []
    for account in accounts:
        watch.account(account)
        ids.append(d.connect(account))
    return ids


# -- the faults ---------------------------------------------------------------------------------------


def test_429_storm_reschedules_after_the_window_while_the_others_import(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60") as d:
        watch = SecretWatch(d)
        stormy, calm1, calm2 = (d.new_account(orders=ORDERS, seed=s) for s in (11, 12, 13))
        stormy_id, calm1_id, calm2_id = connect_all(d, watch, (stormy, calm1, calm2))
        # Far longer than a 429 the adapter waits out in place (5 s), however slowly the worker
        # starts on a busy machine; the test moves the sandbox's clock past it rather than wait.
        storm_end = time.time() + 60
        d.sandbox_call("PATCH", f"/accounts/{stormy.id}/faults?scope=api", storm_until=storm_end)

        watch.run_once()

        assert_healthy(d, calm1_id, calm1)
        assert_healthy(d, calm2_id, calm2)
        assert imported_ids(d, stormy_id) == set()
        row = connection(d, stormy_id)
        # A rate limit is Tiny's ordinary pacing, not an error to show the merchant.
        assert (row.status, row.last_error, row.poll_cursor, row.last_sync_at) == ("connected", None, None, None)
        poll = job(d, "poll", stormy_id)
        assert "limite de requisições" in poll.last_error
        assert poll.lease_owner is None
        # Rescheduled for when Tiny's window reopens, not before (no hammering)...
        assert as_utc(poll.due_at) >= datetime.fromtimestamp(storm_end, UTC) - timedelta(milliseconds=1)
        # ...after exactly one refused call: the worker took the answer's reset at its word.
        assert api_statuses(d, stormy) == {"429": 1}
        assert count_status(d, stormy, "429") == 1

        # The storm blows over and the window comes: time passes for Tiny and for the worker.
        d.sandbox_call("POST", "/clock", advance=max(0.0, storm_end - time.time()) + 1)
        make_due(d, "poll", stormy_id)
        watch.run_once()

        assert_healthy(d, stormy_id, stormy)
        assert api_statuses(d, stormy) == {"429": 1, "200": IMPORT_LISTINGS}
        # The healthy ones were not due again (a 60 s interval), so they were left alone.
        assert api_statuses(d, calm1) == {"200": IMPORT_LISTINGS}


def test_a_rate_limit_reached_mid_poll_keeps_the_pages_already_imported(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60") as d:
        watch = SecretWatch(d)
        # 250 orders are three pages, each a GET /pedidos and (mostly) a GET /notas, with the
        # connection's GET /info and one GET /formas-envio. Five a minute lets page one through
        # (the last calls of the window 5 s apart); then the worker sees the budget spent and
        # stops before Tiny has to refuse. (Seed 43 lists no imported order with an empty valor,
        # whose detail would cost a call.)
        tight = d.new_account(orders=250, seed=43, settings={"rate_limit": 5})
        calm = d.new_account(orders=ORDERS, seed=15)
        tight_id, calm_id = connect_all(d, watch, (tight, calm))

        watch.run_once()

        assert_healthy(d, calm_id, calm)
        expected = importable_ids(d.truth(tight))
        first_page = imported_ids(d, tight_id)
        assert first_page and first_page < expected  # page one, whole; not the rest
        row = connection(d, tight_id)
        assert (row.status, row.last_error, row.poll_cursor) == ("connected", None, None)
        assert row.poll_offset in (100, 200)  # whole pages kept, the rest left for the next run
        poll = job(d, "poll", tight_id)
        assert "limite de requisições" in poll.last_error
        assert as_utc(poll.due_at) > datetime.now(UTC) + timedelta(seconds=5)
        listed_first = api_statuses(d, tight)["200"]
        assert listed_first in (1, 2, 3) and set(api_statuses(d, tight)) == {"200"}
        assert count_status(d, tight, "429") == 0  # the pacer stopped short of Tiny's refusal

        # A minute passes: Tiny's window reopens and the job comes due.
        d.sandbox_call("POST", "/clock", advance=61)
        make_due(d, "poll", tight_id)
        watch.run_once()

        # The window resumes at page two: everything imported, nothing twice, no call refused.
        assert imported_ids(d, tight_id) == expected
        for _ in range(3):
            if connection(d, tight_id).poll_offset is None and connection(d, tight_id).poll_since is None:
                break
            # The budget ran out again before the walk could end (IMPORT_LISTINGS): each
            # `--once` is a new process, which has not seen the day before, so it reads on
            # by day (never missing, costlier); another minute, and the poll goes on from there.
            d.sandbox_call("POST", "/clock", advance=61)
            make_due(d, "poll", tight_id)
            watch.run_once()
        assert_healthy(d, tight_id, tight)
        assert imported_ids(d, tight_id) == expected
        assert count_status(d, tight, "429") == 0


def test_5xx_burst_beyond_the_retry_budget_is_rescheduled_and_a_short_one_absorbed(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60") as d:
        watch = SecretWatch(d)
        broken, shaky, calm = (d.new_account(orders=ORDERS, seed=s) for s in (21, 22, 23))
        broken_id, shaky_id, calm_id = connect_all(d, watch, (broken, shaky, calm))
        # Three attempts per call: four errors exhaust a run's budget and spill into the next.
        d.sandbox_call("PATCH", f"/accounts/{broken.id}/faults?scope=api", force_errors=[500, 503, 502, 500])
        d.sandbox_call("PATCH", f"/accounts/{shaky.id}/faults?scope=api", force_errors=[503, 502])

        watch.run_once()

        assert_healthy(d, calm_id, calm)
        assert_healthy(d, shaky_id, shaky)  # two retries, then the page: the burst never showed
        assert api_statuses(d, shaky) == {"503": 1, "502": 1, "200": IMPORT_LISTINGS}
        # The broken one: three attempts, nothing half-imported, the reason kept for the merchant.
        assert api_statuses(d, broken) == {"500": 1, "503": 1, "502": 1}
        assert imported_ids(d, broken_id) == set()
        assert_poll_failed_and_retries(
            d, broken_id, "o Tiny está com instabilidade (HTTP 502); a sincronização será tentada de novo"
        )

        make_due(d, "poll", broken_id)
        watch.run_once()

        # The leftover 500 is retried in place; the poll completes and clears the message.
        assert_healthy(d, broken_id, broken)
        assert api_statuses(d, broken) == {"500": 2, "503": 1, "502": 1, "200": IMPORT_LISTINGS}


def test_answers_slower_than_the_timeout_are_given_up_on_time(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60", KANGLU_HTTP_TIMEOUT="1") as d:
        watch = SecretWatch(d)
        stuck, slowish, calm = (d.new_account(orders=ORDERS, seed=s) for s in (31, 32, 33))
        stuck_id, slowish_id, calm_id = connect_all(d, watch, (stuck, slowish, calm))
        d.sandbox_call("PATCH", f"/accounts/{stuck.id}/faults?scope=api", force_slow=3, slow_seconds=3)
        d.sandbox_call("PATCH", f"/accounts/{slowish.id}/faults?scope=api", force_slow=1, slow_seconds=3)

        started = time.monotonic()
        watch.run_once()
        elapsed = time.monotonic() - started

        # Each slow answer costs one timeout, not its four seconds times the attempts, and the
        # three attempts of a call stop well inside the retry policy's bounds.
        assert elapsed < 60, f"the run took {elapsed:.1f} s"
        assert_healthy(d, calm_id, calm)
        assert_healthy(d, slowish_id, slowish)  # one timeout, retried within the same run
        assert imported_ids(d, stuck_id) == set()
        assert_poll_failed_and_retries(
            d, stuck_id, "o Tiny demorou demais para responder; a sincronização será tentada de novo"
        )

        make_due(d, "poll", stuck_id)
        watch.run_once()

        assert_healthy(d, stuck_id, stuck)
        # Three abandoned calls (the sandbox answered them late, counting them as it did) and
        # the one that succeeded: no fourth attempt in the first run, no hammering.
        wait_until(lambda: api_statuses(d, stuck) == {"200": 3 + IMPORT_LISTINGS}, timeout=10,
                   what="the sandbox's late answers")


def test_a_revoked_authorisation_disconnects_that_connection_only(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60") as d:
        watch = SecretWatch(d)
        revoked, calm = (d.new_account(orders=ORDERS, seed=s) for s in (41, 42))
        revoked_id, calm_id = connect_all(d, watch, (revoked, calm))
        watch.tokens()  # the tokens about to die must not reach a log either
        d.sandbox_call("POST", f"/accounts/{revoked.id}/revoke")

        watch.run_once()

        assert_healthy(d, calm_id, calm)
        assert imported_ids(d, revoked_id) == set()
        row = connection(d, revoked_id)
        assert row.status == "disconnected"
        assert (row.access_token, row.refresh_token) == (None, None)  # dead tokens are not kept
        assert row.last_error.startswith("o Tiny não aceita mais a autorização dada à Kanglu")
        assert "Conectar" not in row.last_error  # a plain reason: the page adds what to do
        # One 401 on the API (the sandbox cannot tell whose token it was), one refused renewal,
        # and nothing else asked of Tiny for this account since the connection was made.
        assert d.sandbox_call("GET", "/counters")["global"]["by_status"]["401"] == 1
        oauth = d.counters(revoked)["oauth"]
        assert (oauth["refresh_calls"], oauth["token:refresh_token"]) == (1, {"400": 1})
        assert oauth["token_errors"] == {"invalid_grant": 1}
        assert d.counters(revoked)["by_status"] == {"200": 1}  # the GET /info of the connection
        assert job(d, "poll", revoked_id) is None
        renew = job(d, "renew_token", revoked_id)
        if renew is not None:
            # Left until it comes due; when it does, it finds the connection disconnected, asks
            # Tiny nothing, and goes away. Bring it forward to see that.
            make_due(d, "renew_token", revoked_id)
            watch.run_once()
            assert job(d, "renew_token", revoked_id) is None
            assert d.counters(revoked)["oauth"]["refresh_calls"] == 1
        assert connection(d, revoked_id).status == "disconnected"
        assert connection(d, calm_id).status == "connected"


def test_defective_orders_are_imported_with_warnings_and_nothing_is_refused(sqlite_deployment: Any) -> None:
    with sqlite_deployment(KANGLU_POLL_INTERVAL="60") as d:
        watch = SecretWatch(d)
        # Seed 2 at this rate spoils orders of every kind (CPF, access key, tracking code) in
        # situações the mapping imports, and some in situações it ignores.
        messy = d.new_account(orders=30, seed=2, malformed_rate=0.2)
        calm = d.new_account(orders=ORDERS, seed=52)
        messy_id, calm_id = connect_all(d, watch, (messy, calm))
        truth = d.truth(messy)
        kinds = {o["malformed"] for o in truth if o["malformed"] and o["situacao"] in MAPPED_SITUACOES}
        assert kinds == {"cpf_invalido", "chave_acesso_invalida", "codigo_rastreamento_invalido"}

        watch.run_once()

        assert_healthy(d, calm_id, calm)
        assert_healthy(d, messy_id, messy)  # every order in, defective ones included
        assert d.rows("SELECT * FROM import_failures WHERE connection_id = :id", id=messy_id) == []
        field = {"cpf_invalido": "customer.document", "chave_acesso_invalida": "invoice.access_key",
                 "codigo_rastreamento_invalido": "tracking_code"}
        rows = {row.erp_order_id: row for row in d.rows(
            "SELECT erp_order_id, warnings, tracking_status FROM orders WHERE connection_id = :id", id=messy_id)}
        for erp_id, defect in defective(truth).items():
            warnings = rows[erp_id].warnings
            warnings = json.loads(warnings) if isinstance(warnings, str) else warnings
            assert field[defect] in [w["field"] for w in warnings or []], (erp_id, defect, warnings)
            if defect == "codigo_rastreamento_invalido":
                assert rows[erp_id].tracking_status in ("waiting_data", "delivered", "cancelled")
        by_id = {o["id"]: o for o in truth}
        # Nothing half-written: every imported order that has a customer in Tiny has its row,
        # and no customer exists but those of imported orders.
        orders = d.orders_of(messy_id)
        for order in orders:
            has_customer = bool(by_id[order.erp_order_id]["pedido"].get("cliente"))
            assert (order.customer_id is not None) == has_customer, order.erp_order_id
        merchant = connection(d, messy_id).merchant_id
        customers = {r.id for r in d.rows("SELECT id FROM customers WHERE merchant_id = :m", m=merchant)}
        assert customers == {o.customer_id for o in orders if o.customer_id is not None}
