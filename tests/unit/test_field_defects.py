"""A field defect is a warning, never a dropped order (issue 16).

Realistic defective Tiny payloads go through the whole import path a poll takes: the real
TinyGateway over a fake Tiny (listing, notas, order detail), the real PollOrdersByStatus and
importer, in-memory storage. Each defect alone, then all of them on one order: every order is
imported, with exactly the expected warnings, the expected carrier and tracking state, and
no import failure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest

from kanglu.adapters.tiny import RateLimitPacer, TinyGateway
from kanglu.application.commands import PollOrdersByStatusCommand
from kanglu.application.use_cases.poll_orders import PollOrdersByStatus, PollOutcome
from kanglu.domain.orders import Order
from kanglu.domain.secrets import Secret
from kanglu.domain.tracking import ShipmentStatus
from kanglu.domain.tracking_codes import s10_check_digit
from tests.builders import World, access_key, connected_world, cpf, s10
from tests.unit.tiny.fake_tiny import API, FakeTiny, listing_item, nota_item

CORREIOS_PAGE = "https://rastreamento.correios.com.br/app/index.php?objeto="


class TinyTokens:
    """The fake Tiny's token, whatever the connection stores."""

    key = "connection:test"
    calls = 0  # the poll's history counts calls here; this fake's calls are counted by the fake Tiny

    def preload(self, token: Secret, version: int) -> None:
        pass

    def access_token(self) -> Secret:
        return Secret("token-one")

    def renew(self) -> Secret:
        return Secret("token-one")


@attrs.define
class Shop:
    """One connected merchant whose Tiny account is a FakeTiny."""

    world: World
    connection_id: int
    tiny: FakeTiny
    poll: PollOrdersByStatus

    def sync(self) -> None:
        result = self.poll(PollOrdersByStatusCommand(self.connection_id))
        assert result.outcome is PollOutcome.COMPLETED, result
        self.world.clock.advance(timedelta(minutes=3))

    def orders(self) -> dict[int, Order]:
        with self.world.uow() as uow:
            return {o.erp_order_id: o for o in uow.orders.all()}

    def open_failures(self) -> list[Any]:
        return [f for f in self.world.uow.db.committed.failures if f.resolved_at is None]


def make_shop(tiny: FakeTiny | None = None) -> Shop:
    world, connection_id = connected_world()
    tiny = tiny or FakeTiny("token-one")
    # Through a lambda, so that a test can wrap tiny.handle after the gateway is built.
    gateway = TinyGateway(httpx.MockTransport(lambda request: tiny.handle(request)), API, pacer=RateLimitPacer(burst_interval=0.0, fallback_interval=0.0),
                          sleep=lambda _: None)
    poll = world.poll(gateway=gateway, tokens_for=lambda _: TinyTokens())
    return Shop(world, connection_id, tiny, poll)


@pytest.fixture
def shop() -> Shop:
    return make_shop()


def bad_cpf(order_id: int) -> str:
    good = cpf(order_id)
    return f"{good[:3]}.{good[3:6]}.{good[6:9]}-{good[9]}{(int(good[10]) + 1) % 10}"


def bad_s10(serial: int) -> str:
    digits = f"{serial:08d}"
    return f"QB{digits}{(s10_check_digit(digits) + 1) % 10}BR"


def bad_key(number: int) -> str:
    key = access_key(number).value
    return key[:-1] + str((int(key[-1]) + 1) % 10)


# Each defect: how it spoils the listing item (and its nota), and the warnings it must leave.
Spoil = Callable[[dict[str, Any], dict[str, Any]], None]
DEFECTS: dict[str, tuple[Spoil, list[str]]] = {
    "cpf": (lambda o, n: o["cliente"].update(cpfCnpj=bad_cpf(o["id"])), ["customer.document"]),
    "email": (lambda o, n: o["cliente"].update(email="maria.silva@@gmail"), ["customer.email"]),
    "phone": (lambda o, n: o["cliente"].update(celular="(11) 9888"), ["customer.phone"]),
    "cep": (lambda o, n: o["cliente"]["endereco"].update(cep="0100-00"), ["customer.address.zip"]),
    "access_key": (lambda o, n: n.update(chaveAcesso=bad_key(n["id"])), ["invoice.access_key"]),
    "tracking_code": (lambda o, n: o["transportador"].update(codigoRastreamento=bad_s10(o["id"])), ["tracking_code"]),
    "tracking_url": (lambda o, n: o["transportador"].update(urlRastreamento="javascript:alert(document.cookie)"),
                     ["tracking_url"]),
    "empty_valor": (lambda o, n: o.update(valor=""), []),  # the detail gives the total: nothing to warn about
    "unknown_carrier": (lambda o, n: unknown_carrier(o["transportador"], o["id"]), ["carrier"]),
}


def unknown_carrier(transportador: dict[str, Any], order_id: int) -> None:
    """A regional carrier no rule knows, with its own (non-S10) code."""
    transportador.update(nome="Rota Sul Cargas", formaEnvio={"id": 90, "nome": "Rota Sul"},
                         formaFrete={"id": 91, "nome": "Rodoviário"})
    if transportador["codigoRastreamento"] == s10(order_id).value:
        transportador["codigoRastreamento"] = "RS0042"


def expected_state(names: list[str]) -> tuple[str | None, ShipmentStatus]:
    """Tracking starts whenever a carrier and a plausible code are known."""
    if "unknown_carrier" in names:
        return None, ShipmentStatus.WAITING_DATA
    if "tracking_code" in names:
        return "correios", ShipmentStatus.WAITING_DATA  # waits for the corrected code
    return "correios", ShipmentStatus.TRACKING


def spoilt(order_id: int, names: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    item = listing_item(order_id, valorTotalPedido=847.0)  # the detail's total rides along on the fake's row
    nota = nota_item(order_id + 500, order_id)
    for name in names:
        DEFECTS[name][0](item, nota)
    return item, nota


CASES = [[name] for name in DEFECTS] + [[n for n in DEFECTS if n != "unknown_carrier"], list(DEFECTS)]


@pytest.mark.parametrize("names", CASES, ids=["+".join(c) if len(c) < 3 else f"all{len(c)}" for c in CASES])
def test_every_defective_order_is_imported_with_exactly_its_warnings(shop: Shop, names: list[str]) -> None:
    item, nota = spoilt(1, names)
    shop.tiny.orders = [item, listing_item(2)]  # and a clean neighbour
    shop.tiny.notas = [nota, nota_item(502, 2)]
    shop.sync()

    orders = shop.orders()
    assert set(orders) == {1, 2}
    assert shop.open_failures() == []
    order = orders[1]
    expected = sorted(field for name in names for field in DEFECTS[name][1])
    assert sorted(w.field for w in order.warnings) == expected
    for warning in order.warnings:
        assert "campo" not in warning.message and "cpfCnpj" not in warning.message  # plain Portuguese
    carrier, status = expected_state(names)
    assert (order.carrier_code, order.tracking_status) == (carrier, status)
    assert orders[2].warnings == () and orders[2].tracking_status is ShipmentStatus.TRACKING

    # The bad values stay out of the validated fields.
    assert order.customer is not None
    if "cpf" in names:
        assert order.customer.document is None
    if "email" in names:
        assert order.customer.email is None
    if "phone" in names:
        assert order.customer.phone == "1133334444"  # the landline, since the mobile is broken
    if "cep" in names:
        assert order.customer.address is not None and order.customer.address.zip is None
    if "access_key" in names:
        assert order.invoice is not None and order.invoice.access_key is None and order.invoice.number == "501"
    if "tracking_code" in names:
        assert order.tracking_code is None
    if "tracking_url" in names:
        if carrier == "correios" and order.tracking_code is not None:
            assert order.tracking_url == CORREIOS_PAGE + order.tracking_code.value  # the carrier's own https page
        else:
            assert order.tracking_url is None
    if "empty_valor" in names:
        assert str(order.total) == "847.00"
    assert len(shop.tiny.calls("/pedidos/1")) == (1 if "empty_valor" in names else 0)


def test_a_code_fixed_in_tiny_starts_tracking_on_the_next_poll(shop: Shop) -> None:
    item, nota = spoilt(1, ["tracking_code"])
    shop.tiny.orders, shop.tiny.notas = [item], [nota]
    shop.sync()
    waiting = shop.orders()[1]
    assert waiting.tracking_status is ShipmentStatus.WAITING_DATA and [w.field for w in waiting.warnings] == ["tracking_code"]

    item["transportador"]["codigoRastreamento"] = s10(1).value  # the merchant corrected it in Tiny
    shop.sync()
    fixed = shop.orders()[1]
    assert fixed.tracking_status is ShipmentStatus.TRACKING and fixed.warnings == ()
    assert fixed.tracking_code == s10(1)
    assert fixed.active_shipment is not None and fixed.active_shipment.tracking_code == s10(1).value


def test_a_customer_with_an_invalid_document_is_matched_by_email_else_created(shop: Shop) -> None:
    known = listing_item(1)
    same_person = listing_item(2)
    same_person["cliente"].update(cpfCnpj=bad_cpf(1), email=known["cliente"]["email"], id=None)
    stranger = listing_item(3)
    stranger["cliente"].update(cpfCnpj=bad_cpf(3), id=None)
    shop.tiny.orders = [known]
    shop.sync()
    shop.tiny.orders = [known, same_person, stranger]
    shop.sync()
    orders = shop.orders()
    assert orders[2].customer is not None and orders[1].customer is not None
    assert orders[2].customer.id == orders[1].customer.id
    assert orders[1].customer.document is not None  # the valid document is kept, not overwritten
    assert orders[3].customer is not None and orders[3].customer.id not in (orders[1].customer.id,)
    assert orders[3].customer.document is None and orders[3].customer.email == "c3@example.com"


def test_an_order_refused_before_is_imported_by_the_next_poll_and_its_failure_resolved(shop: Shop) -> None:
    from kanglu.domain.import_failures import ImportFailure

    with shop.world.uow() as uow:
        uow.import_failures.add(ImportFailure(
            connection_id=shop.connection_id, erp_order_id=1, reason="CPF inválido (campo cliente.cpfCnpj)",
            raw={"id": 1}, first_seen_at=shop.world.clock.now(), last_seen_at=shop.world.clock.now(),
        ))
        uow.commit()
    item, nota = spoilt(1, ["cpf"])
    shop.tiny.orders, shop.tiny.notas = [item], [nota]
    shop.sync()
    assert 1 in shop.orders() and shop.open_failures() == []


def test_the_detail_failing_leaves_the_total_unknown_and_the_next_listing_asks_again(shop: Shop) -> None:
    item, nota = spoilt(1, ["empty_valor"])
    shop.tiny.orders, shop.tiny.notas = [item], [nota]
    detail_down = httpx.Response(503, json={"mensagem": "indisponível"})
    failing = {"left": 20}  # more than the client's retries

    original = shop.tiny.handle

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pedidos/1") and failing["left"] > 0:
            failing["left"] -= 1
            shop.tiny.requests.append(request)
            return detail_down
        return original(request)

    shop.tiny.handle = handle  # type: ignore[method-assign]
    shop.sync()
    order = shop.orders()[1]
    assert order.total is None and [w.field for w in order.warnings] == ["total"]
    assert shop.open_failures() == []

    failing["left"] = 0  # Tiny is back: the next listing of the order asks its detail again
    shop.sync()
    order = shop.orders()[1]
    assert str(order.total) == "847.00" and order.warnings == ()
    asked = len(shop.tiny.calls("/pedidos/1"))
    shop.sync()  # listed again, total known: no more detail calls
    assert len(shop.tiny.calls("/pedidos/1")) == asked
