"""Where the parcel goes, and point-of-sale sales, end to end through the sandbox.

A sandbox account whose orders mix delivery addresses (gifts to someone else, work addresses,
the customer's own) and keeps its share of PDV sales. After `kanglu worker --once`, every
order's `shipping_address` in the JSON API is what PRODUCT.md says (the invoice listing's
enderecoEntrega, else the customer's address), and no PDV sale is there; once the merchant
turns PDV sales on, the next poll brings them in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kanglu.entrypoints.web import create_app
from tests.e2e.worker.harness import Deployment
from tests.e2e.worker.test_import_correctness import (
    DEFAULT_ACTIONS,
    api_orders,
    comparable,
    expected_order,
    make_poll_due,
)


@pytest.fixture
def world(sqlite_deployment: Callable[..., Any]) -> Iterator[Deployment]:
    with sqlite_deployment() as deployment:
        yield deployment


def test_shipping_address_is_right_on_every_order_and_pdv_sales_wait_for_the_merchant(world: Deployment) -> None:
    account = world.new_account(orders=160, seed=1717, malformed_rate=0)
    connection_id = world.connect(account)
    client = create_app(world.container).test_client()
    bearer = {"Authorization": f"Bearer {world.api_keys[connection_id]}"}

    world.run_once()

    truths = {t["id"]: t for t in world.truth(account)}
    orders = api_orders(client, world.api_keys[connection_id])
    mapped = {i for i, t in truths.items() if t["situacao"] in DEFAULT_ACTIONS}
    pdv = {i for i in mapped if truths[i]["origemPedido"] == 1}
    assert pdv, "the fixed seed has PDV sales in mapped situações: pick another seed"
    assert set(orders) == mapped - pdv
    for erp_id, actual in orders.items():
        assert comparable(actual) == expected_order(account, truths[erp_id], actual), f"order {erp_id}"

    # The account really mixes addresses: some parcels go to another person (a gift), some to
    # the buyer elsewhere (work), the rest to the customer's own address.
    kinds = {"gift": 0, "work": 0, "own": 0}
    for actual in orders.values():
        shipping, customer = actual["shipping_address"], actual["customer"]
        if shipping is None or customer is None:
            continue
        address = {k: v for k, v in shipping.items() if k != "name"}
        if shipping["name"] != customer["name"]:
            kinds["gift"] += 1
        elif address != customer["address"]:
            kinds["work"] += 1
        else:
            kinds["own"] += 1
    assert all(kinds.values()), kinds

    # The merchant ticks "Importar também as vendas do PDV" (here through the API).
    answer = client.put("/api/v1/integrations/tiny/status-mappings", headers=bearer,
                        json={"mappings": [], "import_point_of_sale": True})
    assert answer.status_code == 200 and answer.get_json()["import_point_of_sale"] is True
    make_poll_due(world)
    world.run_once()

    after = api_orders(client, world.api_keys[connection_id])
    assert set(after) == mapped
    for erp_id in pdv:
        actual = after[erp_id]
        assert comparable(actual) == expected_order(account, truths[erp_id], actual), f"PDV sale {erp_id}"
    for erp_id in set(orders):
        assert after[erp_id] == orders[erp_id], f"order {erp_id} changed although Tiny did not change it"
