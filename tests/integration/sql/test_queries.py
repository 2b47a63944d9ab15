"""The read side: order and customer lists (search, filters, newest first, pagination),
import errors, unmatched shipping services and the merchant's summaries."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import attrs
import pytest

from kanglu.adapters.sql.queries import SqlCustomerQueries, SqlMerchantQueries, SqlOrderQueries
from kanglu.application.queries import UNKNOWN_CARRIER, OrderFilters, PageRequest
from kanglu.application.use_cases.create_merchant import hash_api_key
from kanglu.domain.merchants import ApiKey
from kanglu.domain.orders import MalformedOrder
from kanglu.domain.shipping import ShippingService
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking import ShipmentStatus
from kanglu.domain.tracking_codes import TrackingCode
from tests.builders import customer, erp_order, s10
from tests.integration.sql.helpers import SqlWorld

SP = ZoneInfo("America/Sao_Paulo")
ODD = ShippingService(service_id=99, service_name="Entrega Expressa Zé", freight_name="Motoboy")
OTHER_ODD = ShippingService(service_name="Frete Próprio")


@attrs.frozen
class Shop:
    merchant_id: int
    connection_id: int
    other_merchant_id: int


@pytest.fixture
def shop(world: SqlWorld) -> Shop:
    merchant_id, cid = world.connect("loja@example.com")
    world.import_orders(
        cid,
        erp_order(1, created_at=date(2026, 6, 1)),
        erp_order(2, created_at=datetime(2026, 6, 3, 9, 30), customer=customer(2, name="João da Silva")),
        erp_order(3, created_at=datetime(2026, 6, 3, 18, 0, tzinfo=SP), situacao=Situacao.ENTREGUE),
        erp_order(4, created_at=date(2026, 6, 2), shipping=ODD, tracking_code=None, invoice=None,
                  customer=customer(1)),
        erp_order(5, created_at=None, shipping=ODD, situacao=Situacao.FATURADA,
                  tracking_code=TrackingCode.parse("ZE-000555")),
        erp_order(6, created_at=date(2026, 6, 3), shipping=OTHER_ODD, ecommerce_number="MLB-ABC", tracking_code=None),
        MalformedOrder(7, "chave de acesso inválida", {"id": 7}),
    )
    world.import_orders(cid, erp_order(1, created_at=date(2026, 6, 1)), MalformedOrder(1, "CPF inválido", {}))
    other_merchant, other_cid = world.connect("outra@example.com")
    world.import_orders(other_cid, erp_order(1, customer=customer(1)), erp_order(8))
    return Shop(merchant_id, cid, other_merchant)


def listed(queries: SqlOrderQueries, shop: Shop, page: PageRequest = PageRequest(1, 20), **filters) -> list[int]:  # type: ignore[no-untyped-def]
    result = queries.list_orders(shop.merchant_id, OrderFilters(**filters), page)
    return [view.order.erp_order_id for view in result.items]


def test_newest_first_by_creation_date_in_the_erp(world: SqlWorld, shop: Shop) -> None:
    queries = SqlOrderQueries(world.uow.engine)
    page = queries.list_orders(shop.merchant_id, OrderFilters(), PageRequest(1, 20))
    # Same day: the local date-times, then the bare date; no date at all comes last.
    assert [v.order.erp_order_id for v in page.items] == [3, 2, 6, 4, 1, 5]
    assert page.total == 6
    second = page.items[1].order
    assert second.customer.name == "João da Silva" and second.shipments[0].tracking_code == s10(2).value


def test_pagination(world: SqlWorld, shop: Shop) -> None:
    queries = SqlOrderQueries(world.uow.engine)
    assert listed(queries, shop, PageRequest(1, 4)) == [3, 2, 6, 4]
    second = queries.list_orders(shop.merchant_id, OrderFilters(), PageRequest(2, 4))
    assert [v.order.erp_order_id for v in second.items] == [1, 5]
    assert (second.page, second.per_page, second.total, second.pages) == (2, 4, 6, 2)
    assert listed(queries, shop, PageRequest(3, 4)) == []
    assert len(listed(queries, shop, PageRequest(1, 10_000))) == 6  # bounded, not refused


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("10002", [2]),  # order number
        ("10001", [1]),  # the other merchant has an order 10001 too: never listed here
        ("MLB-5", [5]),  # e-commerce number
        ("mlb-abc", [6]),  # typed in lower case
        (s10(3).value.lower(), [3]),  # tracking code
        ("joao", [2]),  # customer name, accents and case ignored
        ("JOÃO DA", [2]),
        ("Cliente 1", [4, 1]),  # orders 1 and 4 share the customer
        (customer(5).document.formatted(), [5]),  # CPF with punctuation
        ("cliente3@example.com", [3]),
        ("nada disso", []),
        ("%", []),
        ("jo", [2]),  # under 3 characters: no trigram index, LIKE still finds it
        ("a s", [2]),
        ("silva", [2]),  # a substring in the middle (the trigram index)
    ],
)
def test_search(world: SqlWorld, shop: Shop, q: str, expected: list[int]) -> None:
    assert listed(SqlOrderQueries(world.uow.engine), shop, q=q) == expected


def test_filters(world: SqlWorld, shop: Shop) -> None:
    queries = SqlOrderQueries(world.uow.engine)
    assert listed(queries, shop, situacao=int(Situacao.ENTREGUE)) == [3]
    assert listed(queries, shop, tracking_status=ShipmentStatus.WAITING_DATA) == [6, 4, 5]
    assert listed(queries, shop, carrier_code=UNKNOWN_CARRIER) == [6, 4, 5]
    assert listed(queries, shop, carrier_code="correios") == [3, 2, 1]
    assert listed(queries, shop, carrier_code="correios", q="joao") == [2]
    first = queries.list_orders(shop.merchant_id, OrderFilters(q="10001"), PageRequest()).items[0].order
    assert listed(queries, shop, customer_id=first.customer.id) == [4, 1]


def test_import_error_is_the_open_failure_of_that_order(world: SqlWorld, shop: Shop) -> None:
    queries = SqlOrderQueries(world.uow.engine)
    views = {v.order.erp_order_id: v for v in queries.list_orders(shop.merchant_id, OrderFilters(), PageRequest()).items}
    assert views[1].import_error == "CPF inválido" and views[2].import_error is None
    view = queries.get_order(shop.merchant_id, views[1].order.id)
    assert view.import_error == "CPF inválido" and view.order.invoice is not None
    assert queries.get_order(shop.other_merchant_id, views[1].order.id) is None
    assert queries.get_order(shop.merchant_id, 10_000) is None


def test_import_failures_list_includes_orders_never_imported(world: SqlWorld, shop: Shop) -> None:
    failures = SqlOrderQueries(world.uow.engine).import_failures(shop.merchant_id, PageRequest())
    assert sorted(f.erp_order_id for f in failures.items) == [1, 7] and failures.total == 2
    assert SqlOrderQueries(world.uow.engine).import_failures(shop.other_merchant_id, PageRequest()).total == 0


def test_unmatched_services(world: SqlWorld, shop: Shop) -> None:
    with world.uow() as u:
        u.carrier_mappings.set(shop.merchant_id, OTHER_ODD.key, "loggi")
        u.commit()
    services = SqlOrderQueries(world.uow.engine).unmatched_services(shop.merchant_id)
    assert [(s.shipping_key, s.label, s.orders_waiting, s.mapped_carrier_code) for s in services] == [
        (ODD.key, "Entrega Expressa Zé / Motoboy", 2, None),
        (OTHER_ODD.key, "Frete Próprio", 1, "loggi"),
    ]
    assert SqlOrderQueries(world.uow.engine).unmatched_services(shop.other_merchant_id) == []


def test_customers_by_name_with_order_counts(world: SqlWorld, shop: Shop) -> None:
    queries = SqlCustomerQueries(world.uow.engine)
    page = queries.list_customers(shop.merchant_id, None, PageRequest(1, 20))
    assert [(v.customer.name, v.orders) for v in page.items] == [
        ("Cliente 1", 2), ("Cliente 3", 1), ("Cliente 5", 1), ("Cliente 6", 1), ("João da Silva", 1)]
    assert page.total == 5
    assert [v.customer.name for v in queries.list_customers(shop.merchant_id, "joão", PageRequest()).items] == [
        "João da Silva"]
    assert queries.list_customers(shop.merchant_id, customer(3).email.upper(), PageRequest()).total == 1
    assert queries.list_customers(shop.merchant_id, customer(6).document.value, PageRequest()).total == 1
    assert queries.list_customers(shop.merchant_id, "---", PageRequest()).total == 0
    assert [v.customer.name for v in queries.list_customers(shop.merchant_id, None, PageRequest(2, 2)).items] == [
        "Cliente 5", "Cliente 6"]
    one = page.items[0]
    assert queries.get_customer(shop.merchant_id, one.customer.id).orders == 2
    assert queries.get_customer(shop.other_merchant_id, one.customer.id) is None


def test_merchant_queries_and_connection_summary(world: SqlWorld, shop: Shop) -> None:
    queries = SqlMerchantQueries(world.uow.engine)
    with world.uow() as u:
        u.merchants.add_api_key(ApiKey(merchant_id=shop.merchant_id, key_hash=hash_api_key("kgl_x"), prefix="kgl_x",
                                       created_at=world.clock.now()))
        u.commit()
    assert queries.by_api_key_hash(hash_api_key("kgl_x")).id == shop.merchant_id
    assert queries.by_email("loja@example.com").id == shop.merchant_id
    assert queries.get(shop.other_merchant_id).email == "outra@example.com"
    summary = queries.connection_summary(shop.merchant_id)
    assert summary.connection.id == shop.connection_id and (summary.orders, summary.open_failures) == (6, 2)
    other = queries.connection_summary(shop.other_merchant_id)
    assert (other.orders, other.open_failures) == (2, 0)
    nobody = world.merchant("nobody@example.com")
    assert queries.connection_summary(nobody).connection is None


def test_a_total_past_the_cap_says_so_and_the_pages_go_on(world: SqlWorld, shop: Shop) -> None:
    queries = SqlOrderQueries(world.uow.engine, total_cap=4)
    page = queries.list_orders(shop.merchant_id, OrderFilters(), PageRequest(1, 2))
    assert (page.total, page.total_capped, page.pages) == (4, True, 3)
    searched = queries.list_orders(shop.merchant_id, OrderFilters(q="Cliente"), PageRequest(1, 2))
    assert (searched.total, searched.total_capped) == (4, True)
    assert [v.order.erp_order_id for v in searched.items] == [3, 6]
    # Past the cap, the page still comes (from its own query).
    assert listed(queries, shop, PageRequest(3, 2)) == [1, 5]
    assert listed(queries, shop, PageRequest(3, 2), q="Cliente") == [5]  # order 2 is João da Silva's
    exact = SqlOrderQueries(world.uow.engine, total_cap=6).list_orders(shop.merchant_id, OrderFilters(), PageRequest(1, 2))
    assert (exact.total, exact.total_capped, exact.pages) == (6, False, 3)


def test_the_name_index_follows_renamed_and_deleted_customers(world: SqlWorld, shop: Shop) -> None:
    from sqlalchemy import delete, update

    from kanglu.adapters.sql import tables as t

    queries = SqlOrderQueries(world.uow.engine)
    with world.uow.engine.begin() as connection:
        connection.execute(update(t.customers).where(t.customers.c.search_name == "joao da silva")
                           .values(name="Maria Souza", search_name="maria souza"))
    assert listed(queries, shop, q="silva") == []
    assert listed(queries, shop, q="souza") == [2]
    with world.uow.engine.begin() as connection:
        connection.execute(update(t.orders).values(customer_id=None))
        connection.execute(delete(t.customers))
    assert listed(queries, shop, q="souza") == []


@pytest.mark.parametrize("per_row", [True, False], ids=["each-customer-checked", "matching-customers-read-first"])
@pytest.mark.parametrize("q", ["10002", "mlb-abc", "joao", "Cliente 1", "cliente3@example.com", "jo", "nada disso",
                               customer(5).document.formatted(), "silva"])
def test_a_search_with_many_matches_walks_the_newest_orders_to_the_same_page(
    world: SqlWorld, shop: Shop, q: str, per_row: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kanglu.adapters.sql import queries, search

    queries_ = SqlOrderQueries(world.uow.engine)
    sorted_matches = listed(queries_, shop, q=q)
    filtered = listed(queries_, shop, q=q, carrier_code="correios")
    monkeypatch.setattr(queries, "WALK_ABOVE", 0)  # every search is "big": the walked path
    # Near the top of the list each order's customer is checked; deeper, the matching
    # customers are read first: the same orders either way.
    monkeypatch.setattr(search, "PER_ROW_WALK_BELOW", 1_000 if per_row else 0)
    assert listed(queries_, shop, q=q) == sorted_matches
    assert listed(queries_, shop, PageRequest(2, 1), q=q) == sorted_matches[1:2]
    assert listed(queries_, shop, q=q, carrier_code="correios") == filtered


@pytest.mark.parametrize("cap", [1_000, 1])
def test_an_order_found_twice_is_counted_and_listed_once(world: SqlWorld, shop: Shop, cap: int) -> None:
    # Order 9: its e-commerce number is "SILVA" and its customer is a Silva; order 10's customer
    # is found both by her name and by her e-mail.
    world.import_orders(shop.connection_id,
                        erp_order(9, ecommerce_number="SILVA", customer=customer(9, name="Maria Silva")),
                        erp_order(10, customer=customer(10, name="Ana Loja Com", email="ana@loja.com")))
    queries = SqlOrderQueries(world.uow.engine, total_cap=cap)
    silva = queries.list_orders(shop.merchant_id, OrderFilters(q="silva"), PageRequest(1, 20))
    assert sorted(v.order.erp_order_id for v in silva.items) == [2, 9]
    assert (silva.total, silva.total_capped) == ((2, False) if cap > 1 else (1, True))
    ana = queries.list_orders(shop.merchant_id, OrderFilters(q="ana@loja.com"), PageRequest(1, 20))
    assert ([v.order.erp_order_id for v in ana.items], ana.total, ana.total_capped) == ([10], 1, False)
