"""What any implementation of the read-side ports (application/queries.py) must do, written
once: a test module imports these tests and provides a `read_side` fixture (a ReadSide over
its own storage). The in-memory fakes run them now; the SQL read side can run the same."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest

from kanglu.application.commands import CreateMerchantCommand, ImportOrderCommand, MapShippingServiceCommand, SaveErpCredentialsCommand
from kanglu.application.ports import UnitOfWorkFactory
from kanglu.application.queries import (
    UNKNOWN_CARRIER,
    CustomerQueries,
    MerchantQueries,
    OrderFilters,
    OrderQueries,
    OrderSummary,
    PageRequest,
)
from kanglu.application.use_cases.create_merchant import CreateMerchant as CreateMerchantUseCase
from kanglu.application.use_cases.create_merchant import hash_api_key
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.application.use_cases.map_shipping_service import MapShippingService as MapShippingServiceUseCase
from kanglu.application.use_cases.save_erp_credentials import SaveErpCredentials as SaveCredentials
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.orders import CARRIER_FIELD, MalformedOrder, OrderWarning
from kanglu.domain.secrets import Secret
from kanglu.domain.shipping import ShippingService
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus
from kanglu.domain.tracking_codes import TrackingCode
from tests.builders import erp_order
from tests.fakes import FakeClock, FakePasswordHasher, FakeSecretBox

UNKNOWN = ShippingService(service_id=9, service_name="Rota Sul", freight_name="Rodoviário")
BAD_DOCUMENT = OrderWarning("customer.document", "CPF inválido: os dígitos verificadores não conferem.")


@attrs.define
class ReadSide:
    uow: UnitOfWorkFactory
    orders: OrderQueries
    customers: CustomerQueries
    merchants: MerchantQueries
    clock: FakeClock = attrs.Factory(FakeClock)

    def merchant(self, email: str) -> tuple[int, str]:
        created = CreateMerchantUseCase(uow=self.uow, clock=self.clock, passwords=FakePasswordHasher())(
            CreateMerchantCommand(email.split("@")[0], email, Secret("senha-forte"))
        )
        assert created.merchant.id is not None
        return created.merchant.id, created.api_key

    def shop(self, merchant_id: int, first_id: int, count: int) -> int:
        SaveCredentials(uow=self.uow, clock=self.clock, secret_box=FakeSecretBox())(
            SaveErpCredentialsCommand(merchant_id, "tiny-api-x", Secret("s"), "https://tiny.com.br/convite")
        )
        with self.uow() as uow:
            connection = uow.connections.for_merchant(merchant_id)
            assert connection is not None and connection.id is not None
            connection_id = connection.id
        items = [
            erp_order(
                n,
                situacao=Situacao.ENTREGUE if n % 3 == 0 else Situacao.ENVIADA,
                created_at=datetime(2026, 6, 1, 8, 0).replace(day=1 + (n - first_id) % 28, hour=n % 24),
                shipping=UNKNOWN if n % 5 == 0 else erp_order(n).shipping,
                # A Correios-shaped code would name the carrier by itself.
                tracking_code=TrackingCode.parse(f"RS{n:06d}") if n % 5 == 0 else erp_order(n).tracking_code,
                # Every 7th: a field defect, and no total from Tiny.
                **({"warnings": (BAD_DOCUMENT,), "total": None} if n % 7 == 0 else {}),
            )
            for n in range(first_id, first_id + count)
        ]
        items.append(MalformedOrder(first_id + 999, "situação desconhecida: 77", {"id": first_id + 999},
                                    number=str(90000 + first_id), customer_name="Cliente Ilegível"))
        ImportOrder(uow=self.uow, clock=self.clock, carriers=DEFAULT_REGISTRY)(
            ImportOrderCommand(connection_id, items)
        )
        return connection_id


@pytest.fixture
def shops(read_side: ReadSide) -> tuple[ReadSide, int, int]:
    a, _ = read_side.merchant("a@loja.com.br")
    b, _ = read_side.merchant("b@loja.com.br")
    read_side.shop(a, 1, 30)
    read_side.shop(b, 101, 7)
    return read_side, a, b


def test_pages_cover_every_order_once_newest_first(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops
    seen = []
    for page in range(1, 5):
        result = side.orders.list_orders(a, OrderFilters(), PageRequest(page, 8))
        assert result.total == 30 and result.pages == 4
        seen += [v.order for v in result.items]
    assert len({o.id for o in seen}) == 30
    keys = [(o.created_at, o.id) for o in seen]
    assert keys == sorted(keys, reverse=True)


def test_filters_and_search(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops
    every = PageRequest(1, 100)

    def erp_ids(filters: OrderFilters) -> set[int]:
        return {v.order.erp_order_id for v in side.orders.list_orders(a, filters, every).items}

    assert erp_ids(OrderFilters(situacao=6)) == {n for n in range(1, 31) if n % 3 == 0}
    assert erp_ids(OrderFilters(carrier_code=UNKNOWN_CARRIER)) == {n for n in range(1, 31) if n % 5 == 0}
    assert erp_ids(OrderFilters(carrier_code="correios")) == {n for n in range(1, 31) if n % 5}
    assert erp_ids(OrderFilters(tracking_status=ShipmentStatus.DELIVERED)) == {n for n in range(1, 31) if n % 3 == 0}
    assert erp_ids(OrderFilters(q="10007")) == {7}  # number
    assert erp_ids(OrderFilters(q="MLB-8")) == {8}  # e-commerce number
    order = side.orders.list_orders(a, OrderFilters(q="10009"), every).items[0].order
    assert erp_ids(OrderFilters(q=order.tracking_code.value)) == {9}
    assert erp_ids(OrderFilters(q=order.customer.document.value)) == {9}
    assert erp_ids(OrderFilters(q=order.customer.document.formatted())) == {9}
    assert erp_ids(OrderFilters(q="Cliente 11")) == {11}
    assert erp_ids(OrderFilters(customer_id=order.customer.id)) == {9}
    assert erp_ids(OrderFilters(q="10101")) == set()  # merchant B's order number


def test_orders_customers_and_failures_are_scoped_to_the_merchant(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, b = shops
    b_orders = side.orders.list_orders(b, OrderFilters(), PageRequest(1, 100)).items
    assert {v.order.erp_order_id for v in b_orders} == set(range(101, 108))
    for view in b_orders:
        assert side.orders.get_order(a, view.order.id) is None
        assert side.orders.get_order(b, view.order.id).order.erp_order_id == view.order.erp_order_id
    b_customers = side.customers.list_customers(b, None, PageRequest(1, 100))
    assert b_customers.total == 7
    for view in b_customers.items:
        assert side.customers.get_customer(a, view.customer.id) is None
        assert side.customers.get_customer(b, view.customer.id).orders == 1
    failures = side.orders.import_failures(a, PageRequest(1, 10))
    assert [f.erp_order_id for f in failures.items] == [1000]
    assert side.merchants.connection_summary(a).orders == 30
    assert side.merchants.connection_summary(a).open_failures == 1


def test_customers_search_by_name_document_or_email(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops
    every = PageRequest(1, 100)
    names = [v.customer.name for v in side.customers.list_customers(a, None, every).items]
    assert len(names) == 30 and names == sorted(names, key=str.casefold)
    one = side.customers.list_customers(a, "cliente12@example.com", every).items
    assert [v.customer.name for v in one] == ["Cliente 12"]
    document = one[0].customer.document
    assert [v.customer.name for v in side.customers.list_customers(a, document.formatted(), every).items] == ["Cliente 12"]


def test_unmatched_services_and_their_mapping(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops
    (service,) = side.orders.unmatched_services(a)
    assert (service.shipping_key, service.label, service.orders_waiting) == (UNKNOWN.key, UNKNOWN.label, 6)
    MapShippingServiceUseCase(uow=side.uow, clock=side.clock, carriers=DEFAULT_REGISTRY)(
        MapShippingServiceCommand(a, UNKNOWN.key, "jadlog")
    )
    assert side.orders.unmatched_services(a) == []


def test_merchants_by_key_email_and_id(read_side: ReadSide) -> None:
    merchant_id, key = read_side.merchant("lojista@loja.com.br")
    assert read_side.merchants.by_api_key_hash(hash_api_key(key)).id == merchant_id
    assert read_side.merchants.by_api_key_hash(hash_api_key(key + "x")) is None
    assert read_side.merchants.by_email("lojista@loja.com.br").id == merchant_id
    assert read_side.merchants.get(merchant_id).email == "lojista@loja.com.br"
    summary = read_side.merchants.connection_summary(merchant_id)
    assert (summary.connection, summary.orders, summary.open_failures) == (None, 0, 0)


def test_warnings_and_unknown_totals_are_read_back(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops

    def fields(view) -> list[str]:  # type: ignore[no-untyped-def]
        return [w.field for w in view.order.warnings]

    listed = {v.order.erp_order_id: v for v in side.orders.list_orders(a, OrderFilters(), PageRequest(1, 100)).items}
    assert listed[7].order.warnings == (BAD_DOCUMENT,) and listed[7].order.total is None
    assert fields(listed[10]) == [CARRIER_FIELD]  # the unknown shipping service
    assert fields(listed[35 - 21]) == ["customer.document"]
    assert fields(listed[1]) == [] and str(listed[1].order.total) == "199.90"
    one = side.orders.get_order(a, listed[7].order.id)
    assert one.order.warnings == (BAD_DOCUMENT,) and one.order.total is None
    # A carrier chosen by hand takes the carrier warning away.
    MapShippingServiceUseCase(uow=side.uow, clock=side.clock, carriers=DEFAULT_REGISTRY)(
        MapShippingServiceCommand(a, UNKNOWN.key, "jadlog")
    )
    assert fields(side.orders.get_order(a, listed[10].order.id)) == []


def test_failures_are_recognisable(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops
    (failure,) = side.orders.import_failures(a, PageRequest(1, 10)).items
    assert (failure.erp_order_id, failure.number, failure.customer_name) == (1000, "90001", "Cliente Ilegível")
    assert failure.reason == "situação desconhecida: 77"


def test_totals_of_short_and_long_lists(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops
    for filters, total in [(OrderFilters(q="10007"), 1), (OrderFilters(q="10101"), 0),
                           (OrderFilters(q="Cliente 1"), 11),  # Cliente 1, 10, 11, ..., 19
                           (OrderFilters(situacao=6), 10), (OrderFilters(), 30)]:
        first, second = (side.orders.list_orders(a, filters, PageRequest(n, 8)) for n in (1, 2))
        assert (first.total, second.total) == (total, total), filters
        assert [v.order.erp_order_id for v in second.items] == [
            v.order.erp_order_id for v in side.orders.list_orders(a, filters, PageRequest(1, 100)).items][8:16]


def test_order_summaries_are_the_listed_orders_as_a_listing_shows_them(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops
    with side.uow() as uow:
        connection = uow.connections.for_merchant(a)
        assert connection is not None and connection.id is not None
    # An order without a customer, and an imported order whose newer version failed.
    import_order = ImportOrder(uow=side.uow, clock=side.clock, carriers=DEFAULT_REGISTRY)
    import_order(ImportOrderCommand(connection.id, [erp_order(202, customer=None), erp_order(203)]))
    import_order(ImportOrderCommand(connection.id, [MalformedOrder(203, "situação desconhecida: 77", {"id": 203})]))
    every = side.orders.list_order_summaries(a, OrderFilters(), PageRequest(1, 100)).items
    by_erp_id = {s.erp_order_id: s for s in every}
    assert by_erp_id[202].customer is None and by_erp_id[203].import_error is not None
    assert by_erp_id[7].warnings == (BAD_DOCUMENT,) and by_erp_id[7].total is None
    for filters in [OrderFilters(), OrderFilters(q="Cliente 1"), OrderFilters(q="10007"), OrderFilters(q="10101"),
                    OrderFilters(situacao=6), OrderFilters(carrier_code=UNKNOWN_CARRIER)]:
        for page in (PageRequest(1, 8), PageRequest(2, 8), PageRequest(9, 8)):
            views = side.orders.list_orders(a, filters, page)
            summaries = side.orders.list_order_summaries(a, filters, page)
            assert list(summaries.items) == [OrderSummary.of(v) for v in views.items], (filters, page)
            assert (summaries.total, summaries.total_capped, summaries.pages) == (
                views.total, views.total_capped, views.pages), (filters, page)


def test_updated_since_keeps_the_orders_changed_at_or_after_the_instant(shops) -> None:  # type: ignore[no-untyped-def]
    side, a, _ = shops
    with side.uow() as uow:
        connection = uow.connections.for_merchant(a)
        assert connection is not None and connection.id is not None
    since = side.clock.advance(minutes=5)
    ImportOrder(uow=side.uow, clock=side.clock, carriers=DEFAULT_REGISTRY)(
        ImportOrderCommand(connection.id, [erp_order(3, situacao=Situacao.ENTREGUE), erp_order(301)])
    )
    for instant, expected in ((since, [3, 301]), (since + timedelta(seconds=1), [])):
        filters = OrderFilters(updated_since=instant)
        listed = side.orders.list_order_summaries(a, filters, PageRequest(1, 100))
        assert (sorted(s.erp_order_id for s in listed.items), listed.total) == (expected, len(expected))
        assert side.orders.list_orders(a, filters, PageRequest(1, 100)).total == len(expected)
