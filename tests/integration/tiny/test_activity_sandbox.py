"""What the demo shows: the Tiny adapter follows a simulated account's orders as they arrive and move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from kanglu.domain.orders import ErpOrder, Invoice
from kanglu.domain.situacoes import Situacao
from tests.integration.tiny.conftest import Tiny
from tests.integration.tiny.test_api_sandbox import read_all


def test_a_poll_sees_every_simulated_change_with_its_invoice_and_tracking_code(make_tiny: Callable[..., Tiny]) -> None:
    tiny = make_tiny(orders=40, settings={"simulate": True})
    gateway, tokens = tiny.gateway(), tiny.tokens()
    since = datetime.fromtimestamp(int(tiny.sandbox.clock.now()), UTC)
    ticks = tiny.http.post(f"{tiny.sandbox.base_url}/_sandbox/activity/tick", json={"ticks": 60}).json()
    tiny.settings(simulate=False)  # other tests' ticks must not move it while it is read
    truth = {o["id"]: o for o in tiny.truth()}
    # Point-of-sale sales are left out of the listing by default (origemPedido=0).
    changed = {c["order_id"] for c in ticks["changes"]
               if c["account_id"] == tiny.account.id and not truth[c["order_id"]].get("origemPedido")}
    seen = {o.erp_order_id: o for o in read_all(gateway, tokens, since)}
    assert changed and changed <= set(seen)
    orders = [seen[i] for i in changed]
    assert all(isinstance(o, ErpOrder) and o.situacao.value == truth[o.erp_order_id]["situacao"] for o in orders)
    shipped = [o for o in orders if o.situacao in (Situacao.PRONTO_ENVIO, Situacao.ENVIADA, Situacao.ENTREGUE)]
    assert shipped
    invoices = gateway.invoices_for(tokens, shipped)
    for order in shipped:
        nota = truth[order.erp_order_id]["nota"]
        invoice = invoices[order.erp_order_id]
        assert isinstance(invoice, Invoice) and invoice.access_key is not None
        assert invoice.access_key.value == nota["chaveAcesso"]
        # What the listing shows of the order's code: Tiny may leave `transportador` out or null.
        listed = (truth[order.erp_order_id]["pedido"].get("transportador") or {}).get("codigoRastreamento")
        expected = listed or nota["codigoRastreamento"]
        code = order.tracking_code or invoice.tracking_code
        assert (code.value if code else None) == expected
