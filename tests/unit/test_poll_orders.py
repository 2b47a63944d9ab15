import logging
from datetime import timedelta

import attrs
import pytest

from kanglu.application.commands import PollOrdersByStatusCommand
from kanglu.application.errors import RateLimited, ReauthorizationRequired, TransientFailure
from kanglu.application.use_cases.poll_orders import PollOutcome
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.jobs import JobKind
from kanglu.domain.money import Money
from kanglu.domain.orders import Invoice, MalformedOrder
from kanglu.domain.shipping import ShippingFamily, ShippingService
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking_codes import TrackingCode
from tests.builders import access_key, connected_world, erp_order, s10


def seed(world, count, updated=None):
    when = updated or world.clock.now() - timedelta(hours=1)
    for i in range(1, count + 1):
        world.gateway.put(erp_order(i), when)


def test_first_poll_imports_the_backfill_page_by_page_and_moves_the_cursor() -> None:
    world, cid = connected_world()
    world.gateway.page_size = 10
    seed(world, 25)
    world.gateway.put(erp_order(99), world.clock.now() - timedelta(days=31))  # outside the backfill
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED and result.pages == 3
    assert result.report.imported == 25
    connection = world.uow.read().connections.get(cid)
    assert connection.poll_cursor == world.clock.now() and connection.poll_progress() is None
    assert connection.last_sync_at == world.clock.now()
    # One interval (2 min) after the poll started, up to 10 % earlier, never later.
    assert timedelta(minutes=1, seconds=48) <= result.next_due_at - world.clock.now() <= timedelta(minutes=2)


def test_the_next_poll_counts_from_this_one_s_start_so_no_change_waits_more_than_an_interval() -> None:
    world, cid = connected_world()
    world.gateway.page_size = 10
    seed(world, 30)
    started = world.clock.now()
    original = world.gateway.changed_orders

    def slow(tokens, since, offset, **kw):
        world.clock.advance(seconds=30)  # each page takes half a minute
        return original(tokens, since, offset, **kw)

    world.gateway.changed_orders = slow
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED and result.pages == 3
    assert timedelta(minutes=1, seconds=48) <= result.next_due_at - started <= timedelta(minutes=2)
    # A poll longer than the interval is followed at once.
    world.clock.advance(minutes=2)
    started = world.clock.now()
    world.gateway.put(erp_order(77), world.clock.now())

    def slower(tokens, since, offset, **kw):
        world.clock.advance(minutes=3)
        return original(tokens, since, offset, **kw)

    world.gateway.changed_orders = slower
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.next_due_at == world.clock.now() == started + timedelta(minutes=3)


def test_next_poll_reads_from_the_cursor_minus_the_overlap() -> None:
    world, cid = connected_world()
    seed(world, 3)
    world.poll()(PollOrdersByStatusCommand(cid))
    world.clock.advance(minutes=2)
    world.gateway.put(erp_order(50), world.clock.now() - timedelta(minutes=5))  # a late write
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.report.imported == 1
    assert result.report.unchanged == 0  # older orders fell outside the window


def test_poll_failing_half_way_keeps_the_cursor_and_resumes_the_unfinished_part() -> None:
    world, cid = connected_world()
    world.gateway.page_size = 10
    seed(world, 30)
    first_cursor = world.uow.read().connections.get(cid).poll_cursor
    world.gateway.faults.append(("orders", TransientFailure("ok")))  # placeholder, consumed below
    world.gateway.faults.clear()
    poll = world.poll()
    original = world.gateway.changed_orders
    calls = {"n": 0}

    def flaky(tokens, since, offset, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise TransientFailure("Tiny respondeu 503")
        return original(tokens, since, offset, **kw)

    world.gateway.changed_orders = flaky
    result = poll(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.RETRY
    connection = world.uow.read().connections.get(cid)
    assert connection.poll_cursor == first_cursor
    assert connection.poll_progress().next_offset == 10
    assert "503" in connection.last_error
    assert len(world.uow.read().orders.all()) == 10

    world.gateway.changed_orders = original
    world.clock.advance(minutes=1)
    result = poll(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED and result.pages == 2
    connection = world.uow.read().connections.get(cid)
    assert len(world.uow.read().orders.all()) == 30
    assert connection.last_error is None
    assert connection.poll_cursor == world.clock.now() - timedelta(minutes=1)  # when the poll began


def test_rate_limit_waits_for_the_reset() -> None:
    world, cid = connected_world()
    seed(world, 3)
    world.gateway.faults.append(("orders", RateLimited("limite", retry_after=42)))
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.RETRY
    assert result.next_due_at == world.clock.now() + timedelta(seconds=42)


def test_malformed_orders_are_recorded_and_do_not_stop_the_poll() -> None:
    world, cid = connected_world()
    seed(world, 3)
    world.gateway.put(MalformedOrder(4, "CPF inválido: os dígitos verificadores não conferem", {"id": 4}),
                      world.clock.now() - timedelta(hours=1), erp_id=4)
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED
    assert (result.report.imported, result.report.failed) == (3, 1)


def test_invoices_are_fetched_once_for_the_orders_lacking_them() -> None:
    world, cid = connected_world()
    for i in (1, 2, 3):
        world.gateway.put(erp_order(i, invoice=None), world.clock.now() - timedelta(hours=1))
    world.gateway.put(erp_order(4, invoice=None, situacao=Situacao.ABERTA), world.clock.now() - timedelta(hours=1))
    world.gateway.invoices = {i: Invoice("9", "1", access_key(9000 + i)) for i in (1, 2)}
    world.poll()(PollOrdersByStatusCommand(cid))
    assert world.gateway.calls["invoices"] == 1
    by_id = {o.erp_order_id: o for o in world.uow.read().orders.all()}
    assert by_id[1].invoice.access_key == access_key(9001) and by_id[3].invoice is None
    world.clock.advance(minutes=2)
    for i in (1, 2, 3):  # all three change again in Tiny; 3 still has no invoice
        world.gateway.put(erp_order(i, invoice=None, total=Money.parse("1.00")), world.clock.now())
    fetched = []
    original = world.gateway.invoices_for
    world.gateway.invoices_for = lambda tokens, wanted: fetched.extend(o.erp_order_id for o in wanted) or original(tokens, wanted)
    world.poll()(PollOrdersByStatusCommand(cid))
    assert fetched == [3]  # the stored invoices of 1 and 2 were reused
    by_id = {o.erp_order_id: o for o in world.uow.read().orders.all()}
    assert by_id[2].invoice.access_key == access_key(9002) and str(by_id[2].total) == "1.00"


def test_shipping_families_are_looked_up_once_and_cached() -> None:
    world, cid = connected_world()
    shipping = ShippingService(service_id=55, service_name="Minha Transportadora", freight_name="Normal")
    world.gateway.families = [ShippingFamily(55, "Minha Transportadora", 7)]  # tipo 7 = Jadlog
    # A Jadlog-shaped code: the builder's default S10 code would contradict the family.
    jadlog_code = TrackingCode.parse("10843000123456")
    for i in (1, 2):
        world.gateway.put(erp_order(i, shipping=shipping, tracking_code=jadlog_code), world.clock.now() - timedelta(hours=1))
    world.poll()(PollOrdersByStatusCommand(cid))
    world.clock.advance(minutes=2)
    world.gateway.put(erp_order(3, shipping=shipping, tracking_code=jadlog_code), world.clock.now())
    world.poll()(PollOrdersByStatusCommand(cid))
    assert world.gateway.calls["families"] == 1
    assert {o.carrier_code for o in world.uow.read().orders.all()} == {"jadlog"}


def test_a_401_renews_once_and_goes_on() -> None:
    world, cid = connected_world()
    seed(world, 2)
    revoked = world.box.open(world.uow.read().connections.get(cid).access_token).value
    world.gateway.accepted_tokens = lambda: world.oauth.current_access() - {revoked}
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED and result.report.imported == 2
    assert world.oauth.refresh_calls == 1


def test_refused_authorisation_stops_the_poll() -> None:
    world, cid = connected_world()
    seed(world, 2)
    world.gateway.faults.append(("orders", ReauthorizationRequired("revogado", "invalid_grant")))
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.DISCONNECTED and result.next_due_at is None
    connection = world.uow.read().connections.get(cid)
    assert connection.status is ConnectionStatus.DISCONNECTED and "revogado" in connection.last_error


def test_disconnected_connection_is_not_polled() -> None:
    world, cid = connected_world()
    with world.uow() as uow:
        uow.connections.get(cid).mark_disconnected("teste", world.clock.now())
        uow.commit()
    assert world.poll()(PollOrdersByStatusCommand(cid)).outcome is PollOutcome.SKIPPED
    assert world.gateway.calls.get("orders") is None


def test_reconnection_resumes_from_the_stored_cursor() -> None:
    world, cid = connected_world()
    seed(world, 2)
    world.poll()(PollOrdersByStatusCommand(cid))
    cursor = world.uow.read().connections.get(cid).poll_cursor
    with world.uow() as uow:
        connection = uow.connections.get(cid)
        connection.mark_disconnected("teste", world.clock.now())
        uow.commit()
    with world.uow() as uow:
        connection = uow.connections.get(cid)
        assert connection.poll_cursor == cursor and connection.status is ConnectionStatus.DISCONNECTED


def test_an_order_leaving_the_invoiced_situacoes_keeps_its_invoice() -> None:
    """Cancelled, or moved to an unmapped situação: the listing carries no invoice, and the
    one imported before must not be erased (nor fetched again)."""
    world, cid = connected_world()
    for i in (1, 2):
        world.gateway.put(erp_order(i, invoice=None), world.clock.now() - timedelta(hours=1))
    world.gateway.invoices = {i: Invoice("9", "1", access_key(9000 + i)) for i in (1, 2)}
    world.poll()(PollOrdersByStatusCommand(cid))
    world.clock.advance(minutes=2)
    world.gateway.put(erp_order(1, invoice=None, situacao=Situacao.CANCELADA), world.clock.now())
    world.gateway.put(erp_order(2, invoice=None, situacao=Situacao.DADOS_INCOMPLETOS), world.clock.now())
    world.poll()(PollOrdersByStatusCommand(cid))
    assert world.gateway.calls["invoices"] == 1
    by_id = {o.erp_order_id: o for o in world.uow.read().orders.all()}
    assert by_id[1].situacao is Situacao.CANCELADA and by_id[1].invoice.access_key == access_key(9001)
    assert by_id[2].situacao is Situacao.DADOS_INCOMPLETOS and by_id[2].invoice.access_key == access_key(9002)


def test_a_tracking_code_added_later_on_the_invoice_only_is_imported() -> None:
    world, cid = connected_world()
    world.gateway.put(erp_order(1, invoice=None, tracking_code=None), world.clock.now() - timedelta(hours=1))
    world.gateway.invoices = {1: Invoice("9", "1", access_key(9001))}
    world.poll()(PollOrdersByStatusCommand(cid))
    assert world.uow.read().orders.all()[0].tracking_code is None
    world.clock.advance(minutes=2)
    world.gateway.invoices = {1: Invoice("9", "1", access_key(9001), tracking_code=s10(1))}
    world.gateway.put(erp_order(1, invoice=None, tracking_code=None), world.clock.now())  # Tiny's update date moves
    world.poll()(PollOrdersByStatusCommand(cid))
    (order,) = world.uow.read().orders.all()
    assert order.tracking_code == s10(1) and order.tracking_status.value == "tracking"


def _lease_poll_job(world, cid: int, owner: str):  # type: ignore[no-untyped-def]
    with world.uow() as uow:
        uow.jobs.schedule(JobKind.POLL, cid, world.clock.now())
        [job] = [j for j in uow.jobs.claim(owner, world.clock.now(), timedelta(minutes=5), 10) if j.subject_id == cid
                 and j.kind is JobKind.POLL]
        uow.commit()
    return job


def test_a_completed_poll_releases_its_job_with_its_last_page() -> None:
    world, cid = connected_world()
    seed(world, 3)
    job = _lease_poll_job(world, cid, "worker-a")
    result = world.handlers().run(job, "worker-a")
    assert result.outcome == PollOutcome.COMPLETED and result.lease_kept is True
    stored = world.uow.read().jobs.get(JobKind.POLL, cid)
    assert (stored.lease_owner, stored.lease_expires_at, stored.attempts) == (None, None, 0)
    assert stored.due_at == result.next_due_at


def test_a_quiet_poll_writes_once_and_a_page_of_orders_in_a_transaction() -> None:
    world, cid = connected_world()
    seed(world, 3)
    job = _lease_poll_job(world, cid, "worker-a")
    commits, writes = world.uow.db.commits, world.progress.writes
    world.handlers().run(job, "worker-a")
    # a page of orders: its import's transaction (and the shipping families cached), then the
    # progress's write
    assert world.progress.writes - writes == 1 and world.uow.db.commits - commits > 1
    world.clock.advance(hours=2)
    job = _lease_poll_job(world, cid, "worker-a")
    commits, writes = world.uow.db.commits, world.progress.writes
    result = world.handlers().run(job, "worker-a")
    assert result.outcome == PollOutcome.COMPLETED and result.lease_kept is True and result.imported == 0
    # nothing listed: the cursor, the history and the job in the progress's one write, nothing else
    assert (world.uow.db.commits - commits, world.progress.writes - writes) == (1, 1)
    stored = world.uow.read().jobs.get(JobKind.POLL, cid)
    assert (stored.lease_owner, stored.due_at) == (None, result.next_due_at)


class _CountedImports:
    """ImportOrder as the poll calls it, counted: each call is one import transaction."""

    def __init__(self, world) -> None:  # type: ignore[no-untyped-def]
        self._import_order = world.import_order()
        self.calls = 0

    def __call__(self, command):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self._import_order(command)


def _relist(world, *items) -> None:  # type: ignore[no-untyped-def]
    """Tiny lists these again (its filter is by day): updated a minute ago, inside the overlap."""
    world.clock.advance(minutes=2)
    for item in items:
        world.gateway.put(item, world.clock.now() - timedelta(minutes=1), erp_id=item.erp_order_id)


def test_a_page_that_lists_again_unchanged_and_ignored_orders_is_written_in_one_statement() -> None:
    world, cid = connected_world()
    seed(world, 3)
    world.poll()(PollOrdersByStatusCommand(cid))
    stored = {o.erp_order_id: o.fingerprint for o in world.uow.read().orders.all()}
    _relist(world, erp_order(1), erp_order(2), erp_order(3), erp_order(7, situacao=Situacao.ABERTA))
    job = _lease_poll_job(world, cid, "worker-a")
    imports, writes = _CountedImports(world), world.progress.writes
    world.progress.offer_release(job.key, "worker-a")
    result = world.poll(import_order=imports)(PollOrdersByStatusCommand(cid))
    assert world.progress.released(job.key) is True
    assert result.outcome is PollOutcome.COMPLETED
    assert (result.report.imported, result.report.unchanged, result.report.ignored) == (0, 3, 1)
    # the page's only write: the cursor and the job, in the progress's one write
    assert (imports.calls, world.progress.writes - writes) == (0, 1)
    assert {o.erp_order_id: o.fingerprint for o in world.uow.read().orders.all()} == stored
    connection = world.uow.read().connections.get(cid)
    assert connection.poll_cursor == world.clock.now() and connection.poll_progress() is None


def test_a_page_listed_again_with_a_change_is_imported_in_a_transaction() -> None:
    world, cid = connected_world()
    seed(world, 3)
    world.poll()(PollOrdersByStatusCommand(cid))
    _relist(world, erp_order(1), erp_order(2, situacao=Situacao.ENTREGUE))
    imports = _CountedImports(world)
    result = world.poll(import_order=imports)(PollOrdersByStatusCommand(cid))
    assert (result.report.imported, result.report.unchanged) == (1, 1)
    assert imports.calls == 1  # the import's transaction (then the progress)
    delivered = {o.erp_order_id: o.tracking_status.value for o in world.uow.read().orders.all()}
    assert delivered == {1: "tracking", 2: "delivered", 3: "tracking"}


def test_an_unchanged_order_whose_failure_is_open_is_written_to_resolve_it() -> None:
    world, cid = connected_world()
    seed(world, 2)
    world.poll()(PollOrdersByStatusCommand(cid))
    _relist(world, MalformedOrder(2, "CPF inválido: os dígitos verificadores não conferem", {"id": 2}))
    world.poll()(PollOrdersByStatusCommand(cid))
    assert set(world.uow.read().import_failures.for_erp_ids(cid, [2])) == {2}
    _relist(world, erp_order(2))  # fixed in Tiny: the order is as it was stored
    imports = _CountedImports(world)
    result = world.poll(import_order=imports)(PollOrdersByStatusCommand(cid))
    assert (result.report.imported, result.report.unchanged, result.report.failed) == (0, 1, 0)
    assert imports.calls == 1  # the failure's resolution is a write
    assert world.uow.read().import_failures.for_erp_ids(cid, [2]) == {}


def test_a_poll_whose_lease_was_lost_says_so_and_leaves_the_job_to_its_new_owner() -> None:
    world, cid = connected_world()
    seed(world, 3)
    job = _lease_poll_job(world, cid, "worker-b")  # worker-a's lease expired and worker-b took the job
    result = world.handlers().run(job, "worker-a")
    assert result.outcome == PollOutcome.COMPLETED and result.lease_kept is False
    assert world.uow.read().jobs.get(JobKind.POLL, cid).lease_owner == "worker-b"
    assert len(world.uow.read().orders.all()) == 3  # the import itself stands: it is idempotent


def test_an_interrupted_poll_leaves_its_job_to_the_runner() -> None:
    world, cid = connected_world()
    seed(world, 3)
    job = _lease_poll_job(world, cid, "worker-a")
    world.gateway.faults.append(("orders", TransientFailure("HTTP 503")))
    result = world.handlers().run(job, "worker-a")
    assert result.outcome == PollOutcome.RETRY and result.lease_kept is None
    assert world.uow.read().jobs.get(JobKind.POLL, cid).lease_owner == "worker-a"
    # A poll run by hand (no runner offered the job) touches no job.
    world.gateway.faults.clear()
    assert world.poll()(PollOrdersByStatusCommand(cid)).outcome is PollOutcome.COMPLETED
    assert world.uow.read().jobs.get(JobKind.POLL, cid).lease_owner == "worker-a"


def test_a_poll_that_found_nothing_logs_at_debug_one_that_imported_at_info(caplog) -> None:  # type: ignore[no-untyped-def]
    world, cid = connected_world()
    seed(world, 2)
    caplog.set_level(logging.DEBUG, logger="kanglu.application.use_cases.poll_orders")
    world.poll()(PollOrdersByStatusCommand(cid))
    world.clock.advance(hours=2)  # past the overlap: the next listing is empty
    world.poll()(PollOrdersByStatusCommand(cid))
    completed = [r for r in caplog.records if r.getMessage() == "poll completed"]
    assert [(r.levelno, r.imported) for r in completed] == [(logging.INFO, 2), (logging.DEBUG, 0)]


def test_a_poll_that_cannot_read_its_connection_is_retried_soon(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    world, cid = connected_world()
    seed(world, 2)

    def database_away():  # type: ignore[no-untyped-def]
        raise TransientFailure("o banco de dados está ocupado ou indisponível; nova tentativa em instantes")

    monkeypatch.setattr(world.progress, "start", lambda _connection_id: database_away())
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.RETRY and result.next_due_at == world.clock.now() + timedelta(minutes=1)
    assert world.uow.read().orders.all() == [] and world.gateway.calls.get("orders") is None


# -- a 401 whose renewal fails ---------------------------------------------------------------------


def expire_access_at_tiny(world, cid: int) -> None:  # type: ignore[no-untyped-def]
    """The stored access token dies at Tiny before its time (Kanglu's clock still trusts it)."""
    stored = world.box.open(world.uow.read().connections.get(cid).access_token).value
    world.gateway.accepted_tokens = lambda: world.oauth.current_access() - {stored}


@pytest.mark.parametrize("failure", [
    TransientFailure("o servidor de autorização do Tiny está com instabilidade (HTTP 503)"),
    TransientFailure("o servidor de autorização do Tiny demorou demais para responder"),
    TransientFailure("a conexão com o servidor de autorização do Tiny falhou"),
    RateLimited("o servidor de autorização do Tiny pediu para aguardar", retry_after=30),
], ids=["503", "timeout", "reset", "429"])
def test_a_401_whose_renewal_fails_for_a_while_is_retried_and_the_connection_stays(failure: Exception) -> None:
    world, cid = connected_world()
    seed(world, 2)
    expire_access_at_tiny(world, cid)
    before = world.uow.read().connections.get(cid)
    world.oauth.fail_next.append(failure)
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.RETRY and result.next_due_at > world.clock.now()
    after = world.uow.read().connections.get(cid)
    assert after.status is ConnectionStatus.CONNECTED
    assert (after.refresh_token, after.token_version) == (before.refresh_token, before.token_version)
    assert "continua conectada" in result.reason
    world.clock.advance(minutes=1)
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED and result.report.imported == 2
    assert world.oauth.refresh_calls == 2  # the failed try and the one that worked; nothing spent reused


def test_a_401_whose_renewal_tiny_refuses_disconnects_with_the_reason() -> None:
    world, cid = connected_world()
    seed(world, 2)
    expire_access_at_tiny(world, cid)
    world.oauth.valid_refresh.clear()  # Tiny answers invalid_grant
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.DISCONNECTED
    connection = world.uow.read().connections.get(cid)
    assert connection.status is ConnectionStatus.DISCONNECTED
    assert connection.last_error == "token de renovação inválido"  # the plain reason: the page adds what to do
    assert connection.refresh_token is None


def test_a_401_right_after_a_successful_renewal_keeps_the_connection_and_the_new_tokens() -> None:
    world, cid = connected_world()
    seed(world, 2)
    world.gateway.accepted_tokens = lambda: set()  # the API refuses even the renewed token
    before = world.uow.read().connections.get(cid)
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.RETRY
    after = world.uow.read().connections.get(cid)
    assert after.status is ConnectionStatus.CONNECTED and after.token_version == before.token_version + 1
    assert world.box.open(after.refresh_token).value in world.oauth.valid_refresh


# -- windows read in several listings, and point-of-sale sales --------------------------------


def test_a_window_the_erp_reads_in_several_listings_is_followed_and_resumed_where_it_failed() -> None:
    world, cid = connected_world()
    seed(world, 3)
    started = world.clock.now()
    midnight = started - timedelta(hours=2)  # where the ERP's second listing starts
    original = world.gateway.changed_orders
    calls: list[tuple] = []

    def by_listing(tokens, since, offset, **kw):
        calls.append((since, offset, kw["until"]))
        if len(calls) == 2:
            raise TransientFailure("Tiny respondeu 503")
        page = original(tokens, since, offset, **kw)
        return attrs.evolve(page, next_since=midnight) if since < midnight else page

    world.gateway.changed_orders = by_listing
    assert world.poll()(PollOrdersByStatusCommand(cid)).outcome is PollOutcome.RETRY
    progress = world.uow.read().connections.get(cid).poll_progress()
    assert (progress.since, progress.next_offset, progress.started_at) == (midnight, 0, started)

    world.clock.advance(minutes=1)
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED
    assert [c[1:] for c in calls] == [(0, started), (0, started), (0, started)]
    assert calls[0][0] == started - timedelta(days=30) and calls[1][0] == calls[2][0] == midnight
    assert world.uow.read().connections.get(cid).poll_cursor == started


def test_point_of_sale_sales_are_left_out_even_when_the_erp_lists_them_until_the_merchant_wants_them() -> None:
    world, cid = connected_world()
    seed(world, 2)
    world.gateway.put(erp_order(50, point_of_sale=True), world.clock.now() - timedelta(hours=1))
    original = world.gateway.changed_orders
    world.gateway.changed_orders = lambda tokens, since, offset, **kw: original(  # an ERP that ignores the filter
        tokens, since, offset, until=kw["until"])
    world.poll()(PollOrdersByStatusCommand(cid))
    assert {o.erp_order_id for o in world.uow.read().orders.all()} == {1, 2}

    world.gateway.changed_orders = original
    with world.uow() as uow:
        uow.connections.get(cid).set_import_point_of_sale(True, world.clock.now())
        uow.commit()
    world.clock.advance(minutes=2)
    world.poll()(PollOrdersByStatusCommand(cid))
    assert {o.erp_order_id for o in world.uow.read().orders.all()} == {1, 2, 50}
    # Turned on, the backfill is read again: the sale changed before the cursor came in.
    assert world.gateway.asked[-1][0] == world.clock.now() - timedelta(days=30) and world.gateway.asked[-1][3]
