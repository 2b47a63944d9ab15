"""Empty `valor` against the sandbox: the total comes from the order's detail, one call for
those orders only; with the detail failing, it is unknown (null), never 0.00. And every
defective order of the sandbox is imported with its warning, none refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kanglu.application.commands import PollOrdersByStatusCommand
from kanglu.application.use_cases.poll_orders import PollOutcome
from kanglu.domain.money import Money
from kanglu.domain.orders import Order
from kanglu.domain.secrets import Secret
from kanglu.domain.situacoes import Action, Situacao, StatusMapping
from tests.builders import World, connected_world
from tests.integration.tiny.conftest import OAuthTokens, Tiny

DETAIL = "GET /pedidos/{idPedido}"


class PollTokens:
    """The account's tokens as the poll takes them (it preloads the stored one: ignored here)."""

    def __init__(self, tokens: OAuthTokens) -> None:
        self._tokens = tokens
        self.key = tokens.key

    calls = 0

    def preload(self, token: Secret, version: int) -> None:
        pass

    def access_token(self) -> Secret:
        self.calls += 1  # the poll's history counts Tiny calls here
        return self._tokens.access_token()

    def renew(self) -> Secret:
        return self._tokens.renew()


def import_everything(tiny: Tiny) -> tuple[World, dict[int, Order]]:
    world, connection_id = connected_world()
    world.clock.advance(datetime.fromtimestamp(tiny.sandbox.clock.now(), UTC) - world.clock.now())
    with world.uow() as uow:
        uow.status_mappings.save(connection_id, StatusMapping({s: Action.IMPORT for s in Situacao}))
        uow.commit()
    tokens = PollTokens(tiny.tokens())
    poll = world.poll(gateway=tiny.gateway(), tokens_for=lambda _: tokens, backfill=timedelta(days=62))
    result = poll(PollOrdersByStatusCommand(connection_id))
    assert result.outcome is PollOutcome.COMPLETED, result
    assert result.report.failed == 0
    with world.uow() as uow:
        return world, {o.erp_order_id: o for o in uow.orders.all()}


def detail_total(tiny: Tiny, order_id: int) -> Money:
    answer = tiny.http.get(f"{tiny.sandbox.api_url}/pedidos/{order_id}",
                           headers={"Authorization": f"Bearer {tiny.tokens().access_token().value}"})
    return Money.parse(Decimal(str(answer.raise_for_status().json()["valorTotalPedido"])))


def test_an_empty_valor_takes_the_details_total_with_one_call_per_such_order(make_tiny: Callable[..., Tiny]) -> None:
    tiny = make_tiny(orders=400, malformed_rate=0.05)
    empty = [o["id"] for o in tiny.truth() if o["pedido"].get("valor") == "" and not o.get("origemPedido")]
    assert empty, "the dataset should list some orders with an empty valor"
    world, orders = import_everything(tiny)
    assert set(empty) <= set(orders)
    for order_id in empty:
        assert orders[order_id].total == detail_total(tiny, order_id)
        assert all(w.field != "total" for w in orders[order_id].warnings)
    calls = tiny.counters()["api"].get(DETAIL, {}).get("total", 0)
    assert calls == len(empty) + len(empty)  # ours, then this test's own reads of the detail
    assert world.uow.db.committed.failures == []


def test_with_the_detail_failing_the_total_is_null_never_zero(make_tiny: Callable[..., Tiny]) -> None:
    tiny = make_tiny(orders=400)
    tiny.faults(endpoints=[DETAIL], error_rate=1.0, error_statuses=[503])
    empty = [o["id"] for o in tiny.truth() if o["pedido"].get("valor") == "" and not o.get("origemPedido")]
    assert empty
    world, orders = import_everything(tiny)
    for order_id in empty:
        assert orders[order_id].total is None
        assert [w.field for w in orders[order_id].warnings if w.field == "total"] == ["total"]
    others = [o for erp_id, o in orders.items() if erp_id not in empty]
    assert others and all(o.total is not None for o in others)  # the listing and notas kept working
    assert world.uow.db.committed.failures == []


def test_the_sandboxs_defective_orders_are_all_imported_with_their_warning(make_tiny: Callable[..., Tiny]) -> None:
    tiny = make_tiny(orders=300, malformed_rate=0.3)
    spoilt = {o["id"]: o["malformed"] for o in tiny.truth() if o["malformed"] and not o.get("origemPedido")}
    _, orders = import_everything(tiny)
    field = {"cpf_invalido": "customer.document", "chave_acesso_invalida": "invoice.access_key",
             "codigo_rastreamento_invalido": "tracking_code"}
    assert set(spoilt) <= set(orders)
    for order_id, defect in spoilt.items():
        fields = [w.field for w in orders[order_id].warnings]
        if defect == "chave_acesso_invalida" and orders[order_id].invoice is None:
            continue  # its nota is not authorised (yet): no key was read
        assert field[defect] in fields, (defect, orders[order_id].warnings)
