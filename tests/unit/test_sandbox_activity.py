"""The sandbox's simulated activity: orders arrive and move on along Tiny's real path, replayably."""

from __future__ import annotations

import json
from collections import Counter

from kanglu.domain.access_keys import AccessKey
from kanglu.domain.tracking_codes import TrackingCode
from kanglu.sandbox import payloads
from kanglu.sandbox.accounts import SandboxState
from kanglu.sandbox.activity import Activity, Change
from kanglu.sandbox.clock import SandboxClock
from kanglu.sandbox.model import AUTHORISED_INVOICE

START = 1_795_000_400
# One realistic step, a cancellation before invoicing, or a parcel coming back.
ALLOWED = {(0, 3), (3, 4), (4, 1), (1, 7), (7, 5), (5, 6), (0, 2), (3, 2), (4, 2), (5, 9)}


def simulated(seed: int, orders: int = 60) -> tuple[SandboxState, Activity]:
    state = SandboxState(SandboxClock(start=START))
    state.create_account(orders=orders, seed=seed, settings={"simulate": True})
    return state, Activity(state)


def run(state: SandboxState, activity: Activity, ticks: int) -> list[Change]:
    changes = []
    for _ in range(ticks):
        state.clock.advance(5)
        changes += activity.tick()
    return changes


def listing(state: SandboxState) -> list[object]:
    dataset = state.all_accounts()[0].dataset
    return [payloads.pedido_detail(dataset, o) for o in dataset.orders]


def test_the_same_seed_and_ticks_tell_the_same_story() -> None:
    one, two = simulated(11), simulated(11)
    assert run(*one, 150) == run(*two, 150)
    assert listing(one[0]) == listing(two[0])
    other = simulated(12)
    assert run(*other, 150) != run(*simulated(11), 150)


def test_orders_arrive_open_or_approved_and_only_take_realistic_steps() -> None:
    state, activity = simulated(3)
    changes = run(state, activity, 600)
    steps = Counter((c.before, c.situacao) for c in changes)
    assert {s for s in steps if s[0] is None} == {(None, 0), (None, 3)}
    assert {s for s in steps if s[0] is not None} == ALLOWED  # every kind happened, and nothing else
    assert steps[(5, 6)] > 10 * steps[(5, 9)] and steps[(4, 1)] > 10 * steps[(4, 2)]
    new = {c.order_id for c in changes if c.before is None}
    orders = state.all_accounts()[0].dataset.orders_by_id
    assert 100 < len(new) < 400
    assert sum(orders[i].situacao == 6 for i in new) > len(new) / 2  # most new orders got delivered


def test_every_change_bumps_data_atualizacao_to_now() -> None:
    state, activity = simulated(4)
    orders = state.all_accounts()[0].dataset.orders_by_id
    for _ in range(50):
        state.clock.advance(7)
        for change in activity.tick():
            assert orders[change.order_id].updated == int(state.clock.now())


def test_invoiced_orders_have_an_authorised_key_and_shipped_ones_a_code_in_their_carriers_shape() -> None:
    state, activity = simulated(5)
    dataset = state.all_accounts()[0].dataset
    changes = run(state, activity, 500)
    invoiced = {c.order_id for c in changes if c.situacao in (1, 7, 5, 6, 9)}
    readied = {c.order_id for c in changes if (c.before, c.situacao) == (1, 7)}
    assert len(readied) > 50
    for order in (dataset.orders_by_id[i] for i in invoiced):
        key = AccessKey.parse(order.invoice.chave)
        assert order.invoice.situacao in AUTHORISED_INVOICE
        assert key.issuer_cnpj == dataset.company.cnpj and key.number == order.invoice.numero
    places = Counter()
    for order in (dataset.orders_by_id[i] for i in readied):
        if order.forma is None or order.forma.make_code is None:
            continue
        codes = {order.tracking_code, order.invoice.tracking_code} - {None}
        assert len(codes) == 1, order
        code = TrackingCode.parse(codes.pop())
        if order.forma.tipo == 1:  # Correios: a valid S10 code
            assert code.is_s10
        places[(order.tracking_code is not None, order.invoice.tracking_code is not None)] += 1
    assert set(places) == {(True, False), (False, True), (True, True)}  # order, invoice only, both


def test_only_flagged_accounts_live() -> None:
    state, activity = simulated(6)
    quiet = state.create_account(orders=40, seed=7)
    before = json.dumps(quiet.dataset.snapshot())
    changes = run(state, activity, 100)
    assert {c.account_id for c in changes} == {"default"}
    assert json.dumps(quiet.dataset.snapshot()) == before
    quiet.settings.update({"simulate": True})
    assert "conta-2" in {c.account_id for c in run(state, activity, 20)}


def test_an_empty_account_gets_its_first_orders() -> None:
    state, activity = simulated(8, orders=0)
    changes = run(state, activity, 30)
    assert changes and state.all_accounts()[0].dataset.orders


def test_after_a_restore_the_story_goes_on_as_if_there_had_been_no_restart() -> None:
    straight = simulated(9)
    run(*straight, 80)
    first = simulated(9)
    run(*first, 40)
    state = SandboxState(first[0].clock)
    state.restore(json.loads(json.dumps(first[0].snapshot())))
    run(state, Activity(state), 40)
    assert listing(state) == listing(straight[0])
