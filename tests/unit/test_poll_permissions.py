"""A 403 is a missing permission of the Tiny application: the poll goes on with what it may read,
fills in what it skipped once the permission is back, and never disconnects."""

from __future__ import annotations

from datetime import timedelta

from kanglu.application.commands import PollOrdersByStatusCommand
from kanglu.application.use_cases.poll_orders import PollOutcome
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.orders import Invoice
from kanglu.domain.permissions import ErpPermission
from kanglu.domain.shipping import ShippingFamily
from tests.builders import access_key, connected_world, erp_order

NOTAS = ErpPermission.NOTAS_FISCAIS


def world_with_invoiced_orders(count: int = 3):
    world, cid = connected_world()
    for i in range(1, count + 1):
        world.gateway.put(erp_order(i, invoice=None), world.clock.now() - timedelta(hours=1))
        world.gateway.invoices[i] = Invoice(number=str(500 + i), series="1", access_key=access_key(500 + i))
    return world, cid


def stored(world, cid):
    uow = world.uow.read()
    return uow.connections.get(cid), {o.erp_order_id: o for o in uow.orders.all()}


def test_without_notas_fiscais_every_order_is_imported_without_its_invoice_and_the_connection_stays() -> None:
    world, cid = world_with_invoiced_orders()
    world.gateway.missing = {NOTAS}
    result = world.poll()(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED and result.report.imported == 3
    connection, orders = stored(world, cid)
    assert connection.status is ConnectionStatus.CONNECTED and connection.access_token is not None
    assert connection.missing_permissions == {NOTAS}
    assert connection.last_error is None  # not a failure of the poll: the card names the permission
    assert all(o.invoice is None for o in orders.values())
    assert world.gateway.calls["invoices"] == 1  # asked once; later polls do not knock again

    world.clock.advance(minutes=2)
    world.gateway.put(erp_order(4, invoice=None), world.clock.now())
    world.gateway.invoices[4] = Invoice(number="504", series="1", access_key=access_key(504))
    assert world.poll()(PollOrdersByStatusCommand(cid)).report.imported == 1
    assert world.gateway.calls["invoices"] == 1
    assert world.gateway.calls.get(f"probe:{NOTAS}", 0) == 0  # not yet time to ask again


def test_once_the_permission_is_ticked_the_next_recheck_fills_in_the_invoices_without_the_merchant() -> None:
    world, cid = world_with_invoiced_orders()
    world.gateway.missing = {NOTAS}
    poll = world.poll(permission_recheck=timedelta(minutes=5))
    poll(PollOrdersByStatusCommand(cid))
    world.clock.advance(minutes=2)
    poll(PollOrdersByStatusCommand(cid))  # still missing, not probed yet
    assert world.gateway.calls.get(f"probe:{NOTAS}", 0) == 0

    world.clock.advance(minutes=4)
    assert poll(PollOrdersByStatusCommand(cid)).outcome is PollOutcome.COMPLETED  # probed: still missing
    assert world.gateway.calls[f"probe:{NOTAS}"] == 1
    connection, orders = stored(world, cid)
    assert connection.missing_permissions == {NOTAS} and all(o.invoice is None for o in orders.values())

    world.gateway.missing = set()  # the merchant ticks "Notas Fiscais: leitura" in Tiny
    world.clock.advance(minutes=5)
    result = poll(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED
    connection, orders = stored(world, cid)
    assert connection.missing_permissions == frozenset() and connection.incomplete_since is None
    assert {i: o.invoice.number for i, o in orders.items()} == {1: "501", 2: "502", 3: "503"}
    assert result.report.imported == 3  # the orders imported meanwhile were read again
    assert connection.status is ConnectionStatus.CONNECTED


def test_without_formas_de_envio_the_orders_go_on_and_get_their_family_once_it_is_back() -> None:
    world, cid = connected_world()
    world.gateway.put(erp_order(1), world.clock.now() - timedelta(hours=1))
    world.gateway.families = [ShippingFamily(service_id=10, name="Correios", family=1)]
    world.gateway.missing = {ErpPermission.FORMAS_ENVIO}
    poll = world.poll(permission_recheck=timedelta(minutes=5))
    assert poll(PollOrdersByStatusCommand(cid)).report.imported == 1
    connection, _ = stored(world, cid)
    assert connection.missing_permissions == {ErpPermission.FORMAS_ENVIO}
    assert world.uow.read().shipping_families.for_connection(cid) == {}

    world.gateway.missing = set()
    world.clock.advance(minutes=6)
    poll(PollOrdersByStatusCommand(cid))
    connection, _ = stored(world, cid)
    assert connection.missing_permissions == frozenset()
    assert world.uow.read().shipping_families.for_connection(cid)[10].family == 1


def test_without_pedidos_the_polls_pause_with_the_message_and_try_again_every_recheck() -> None:
    world, cid = world_with_invoiced_orders()
    world.gateway.missing = {ErpPermission.PEDIDOS}
    poll = world.poll(permission_recheck=timedelta(minutes=5))
    for _ in range(3):
        result = poll(PollOrdersByStatusCommand(cid))
        assert result.outcome is PollOutcome.PAUSED
        assert result.next_due_at == world.clock.now() + timedelta(minutes=5)
        world.clock.advance(minutes=5)
    connection, orders = stored(world, cid)
    assert connection.status is ConnectionStatus.CONNECTED and connection.access_token is not None
    assert connection.missing_permissions == {ErpPermission.PEDIDOS}
    assert "Pedidos: leitura" in connection.last_error and not orders

    world.gateway.missing = set()
    result = poll(PollOrdersByStatusCommand(cid))
    assert result.outcome is PollOutcome.COMPLETED and result.report.imported == 3
    connection, _ = stored(world, cid)
    assert connection.missing_permissions == frozenset() and connection.last_error is None


def test_without_info_conta_the_connection_completes_and_the_name_arrives_later() -> None:
    world, cid = connected_world()
    with world.uow() as uow:  # as a connection made without the permission would be
        connection = uow.connections.get(cid)
        connection.account_name = None
        connection.note_permission_missing(ErpPermission.INFO_CONTA, None, world.clock.now())
        uow.commit()
    poll = world.poll(permission_recheck=timedelta(minutes=5))
    world.gateway.missing = {ErpPermission.INFO_CONTA}
    world.clock.advance(minutes=6)
    poll(PollOrdersByStatusCommand(cid))
    assert stored(world, cid)[0].account_name is None
    world.gateway.missing = set()
    world.clock.advance(minutes=6)
    poll(PollOrdersByStatusCommand(cid))
    connection, _ = stored(world, cid)
    assert connection.account_name == world.gateway.account and not connection.missing_permissions


def test_a_new_authorisation_probes_the_missing_permissions_at_the_next_poll() -> None:
    world, cid = world_with_invoiced_orders()
    world.gateway.missing = {NOTAS}
    poll = world.poll(permission_recheck=timedelta(minutes=5))
    poll(PollOrdersByStatusCommand(cid))
    world.gateway.missing = set()  # the merchant fixed the application and clicks "Autorizar de novo"
    from urllib.parse import parse_qs, urlsplit

    from kanglu.application.commands import BeginConnectErpCommand, CompleteConnectErpCommand

    state = parse_qs(urlsplit(world.connect_erp().begin(BeginConnectErpCommand(7))).query)["state"][0]
    world.connect_erp().complete(CompleteConnectErpCommand(state=state, code=world.oauth.issue_code()))
    assert stored(world, cid)[0].missing_permissions == {NOTAS}  # kept until probed: what it left out is known
    world.clock.advance(minutes=1)  # well before the recheck would be due
    poll(PollOrdersByStatusCommand(cid))
    connection, orders = stored(world, cid)
    assert not connection.missing_permissions and all(o.invoice is not None for o in orders.values())
