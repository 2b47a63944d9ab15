"""What spares a quiet poll from reading the notas again lives in a store (the database in
production), not in one process's memory: a gateway that just started (a restart, another
worker) costs what the one that read the notas costs, and finds the same invoices."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime, timedelta

import attrs
import pytest

from kanglu.adapters.tiny import TinyGateway
from kanglu.adapters.tiny.invoices import InvoiceCheck, SavedListing
from kanglu.domain.orders import ErpOrder, Invoice
from kanglu.domain.situacoes import Situacao
from tests.builders import erp_order, s10
from tests.unit.tiny.fake_tiny import FakeTime, FakeTiny, FakeTokens, nota_item


class MemoryChecks:
    """The InvoiceCheckStore as the SQL one behaves (tests/integration/sql checks that one)."""

    def __init__(self) -> None:
        self.listings: dict[str, SavedListing] = {}
        self.saved: dict[tuple[str, int], tuple[datetime, InvoiceCheck]] = {}
        self.writes = 0

    def listing(self, key: str) -> SavedListing | None:
        return self.listings.get(key)

    def checks(self, key: str, started_at: datetime, erp_ids: Collection[int]) -> dict[int, InvoiceCheck]:
        return {i: self.saved[(key, i)][1] for i in erp_ids
                if (key, i) in self.saved and self.saved[(key, i)][0] == started_at}

    def remember(self, key: str, started_at: datetime, listing: SavedListing | None,
                 checks: Mapping[int, InvoiceCheck], advance: tuple[int, int] | None) -> None:
        self.writes += 1
        if listing is not None:
            known = self.listings.get(key)
            if known is None or known.started_at <= listing.started_at:
                self.listings[key] = listing
            self.saved = {k: v for k, v in self.saved.items() if k[0] != key or v[0] >= started_at}
        for erp_id, check in checks.items():
            self.saved[(key, erp_id)] = (started_at, check)
        if advance is not None:
            for (k, erp_id), (generation, check) in list(self.saved.items()):
                if (k == key and generation == started_at and check.nota is None
                        and advance[0] <= check.checked_upto < advance[1]):
                    self.saved[(k, erp_id)] = (generation, InvoiceCheck(advance[1]))


def invoiced(erp_id: int, created: date = date(2026, 6, 20)) -> ErpOrder:
    return attrs.evolve(erp_order(erp_id, Situacao.FATURADA), invoice=None, created_at=created)


@pytest.fixture
def store() -> MemoryChecks:
    return MemoryChecks()


@pytest.fixture
def wall(fake_time: FakeTime) -> Callable[[], float]:
    return lambda: 1_780_000_000.0 + fake_time.now


@pytest.fixture
def process(make_gateway: Callable[..., TinyGateway], store: MemoryChecks,
            wall: Callable[[], float]) -> Callable[[], TinyGateway]:
    """A new worker process: a gateway of its own, the same database."""
    return lambda: make_gateway(invoice_checks=store, wall_clock=wall)


def big_account(tiny: FakeTiny) -> list[ErpOrder]:
    """1,000 invoiced orders over ten days; every 20th without a nota (it waits on it)."""
    orders, notas = [], []
    for n in range(1, 1001):
        created = date(2026, 6, 20) + timedelta(days=n // 100)
        orders.append(invoiced(n, created))
        if n % 20:
            notas.append(nota_item(0, n, _created=(created + timedelta(days=n % 3)).isoformat()))
    tiny.notas = sorted(notas, key=lambda x: x["_created"])
    for i, nota in enumerate(tiny.notas):
        nota["id"] = 10_000 + i
    return orders


def look(gateway: TinyGateway, tokens: FakeTokens, orders: list[ErpOrder]) -> dict[int, object]:
    found: dict[int, object] = {}
    for start in range(0, len(orders), 100):
        found.update(gateway.invoices_for(tokens, orders[start:start + 100]))
    return found


def test_a_quiet_look_costs_the_same_in_a_process_that_just_started(
    tiny: FakeTiny, tokens: FakeTokens, fake_time: FakeTime, process: Callable[[], TinyGateway], store: MemoryChecks
) -> None:
    orders = big_account(tiny)
    first = process()
    imported = look(first, tokens, orders)
    assert len(imported) == 950
    after_import = len(tiny.calls("/notas"))

    fake_time.now += 120  # the next poll, past the tail's re-check
    warm = look(first, tokens, orders)
    warm_calls = len(tiny.calls("/notas")) - after_import
    writes = store.writes
    cold = look(process(), tokens, orders)
    cold_calls = len(tiny.calls("/notas")) - after_import - warm_calls

    assert cold == warm == imported  # the same invoices, from the database's memory
    # The 50 orders that wait on a nota are looked for at the end of the listing: one call,
    # cold as warm (not the ten pages of the window again).
    assert warm_calls == cold_calls == 1
    assert store.writes == writes  # nothing new: nothing written


def test_a_process_that_just_started_reads_on_from_where_the_orders_were_checked(
    tiny: FakeTiny, tokens: FakeTokens, fake_time: FakeTime, process: Callable[[], TinyGateway]
) -> None:
    orders = big_account(tiny)
    look(process(), tokens, orders)
    waiting = [o for o in orders if o.erp_order_id % 20 == 0]
    tiny.notas.append(nota_item(20_000, 40, _created="2026-07-01"))  # order 40's nota, at last
    fake_time.now += 120
    calls = len(tiny.calls("/notas"))
    found = process().invoices_for(tokens, waiting)
    assert set(found) == {40} and isinstance(found[40], Invoice)
    assert len(tiny.calls("/notas")) - calls == 1
    assert tiny.calls("/notas")[-1].url.params["offset"] == str(len(tiny.notas) - 1)


def test_a_nota_read_for_another_order_is_not_taken_for_checked(
    tiny: FakeTiny, tokens: FakeTokens, process: Callable[[], TinyGateway]
) -> None:
    # The first process reads order 2's nota while it looks for order 1's; order 2 is not
    # among its orders (it reaches an invoiced situação later). A new process must find it.
    tiny.notas = [nota_item(1, 1), nota_item(2, 2)]
    assert set(process().invoices_for(tokens, [invoiced(1)])) == {1}
    found = process().invoices_for(tokens, [invoiced(2)])
    assert set(found) == {2}


def test_an_invoice_found_before_an_import_that_failed_is_found_again_without_a_call(
    tiny: FakeTiny, tokens: FakeTokens, process: Callable[[], TinyGateway]
) -> None:
    tiny.notas = [nota_item(7, 7)]
    found = process().invoices_for(tokens, [invoiced(7)])  # then the page's import failed
    calls = len(tiny.calls("/notas"))
    assert process().invoices_for(tokens, [invoiced(7)]) == found
    assert len(tiny.calls("/notas")) == calls


def test_the_window_is_read_from_scratch_once_it_is_an_hour_old(
    tiny: FakeTiny, tokens: FakeTokens, fake_time: FakeTime, process: Callable[[], TinyGateway], store: MemoryChecks
) -> None:
    tiny.notas = [nota_item(7, 7)]
    process().invoices_for(tokens, [invoiced(7)])
    tiny.notas[0]["codigoRastreamento"] = str(s10(7))  # added to the nota afterwards
    fake_time.now += 3601
    calls = len(tiny.calls("/notas"))
    found = process().invoices_for(tokens, [invoiced(7)])
    assert found[7].tracking_code is not None  # type: ignore[union-attr]
    assert tiny.calls("/notas")[calls].url.params["offset"] == "0"
    assert len(store.saved) == 1  # the older generation's checks are gone
