"""Import correctness against the sandbox, end to end.

After one `kanglu worker --once` on fresh connections, every order in a mapped situação is
imported with every field of the order shape of PRODUCT.md, read back through the JSON API;
after the sandbox changes some orders (a tracking code added on an order, another on an invoice
only, one cancelled, one delivered, one moved out of the mapping, one invoiced and moved in), the next `--once` reflects exactly those
changes and leaves every other order byte for byte as it was.

The expected import is computed here from the sandbox's own truth (the raw listing payload
under "pedido", the nota, the forma de envio), following PRODUCT.md and TINY_API.md, never by
calling Kanglu's conversion code.

Carrier: compared with an explicit table keyed by the sandbox's forma de envio. When the listing
shows no `transportador` at all, Kanglu cannot see the forma; only the tracking code's shape is
left, so the carrier may then be unknown, but never another carrier than the table's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from kanglu.adapters.sql.tables import jobs
from kanglu.domain.jobs import JobKind
from kanglu.entrypoints.web import create_app
from kanglu.sandbox import payloads
from kanglu.sandbox.accounts import Account
from tests.e2e.worker.harness import Deployment

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

# PRODUCT.md defaults: every action but "ignore" imports the order.
DEFAULT_ACTIONS = {1: "import", 7: "import", 5: "import", 6: "mark_delivered", 2: "cancel_tracking"}
# Situações in which Tiny has issued the invoice (TINY_API.md): Kanglu looks for the nota there.
INVOICED = {1, 7, 5, 6, 9}
# Nota situações with a valid access key: 2 Emitida, 6 Autorizada, 7 Emitida DANFE.
AUTHORISED_NOTA = {2, 6, 7}

# The sandbox's formas de envio (src/kanglu/sandbox/catalog.py) and the carrier each one is
# (PRODUCT.md carrier codes); None: no carrier (own delivery, pick-up at the shop).
CARRIERS: dict[str, tuple[str, str] | None] = {
    "Correios": ("correios", "Correios"),
    "Correios (contrato antigo)": ("correios", "Correios"),
    "Mercado Envios": ("mercado_envios", "Mercado Envios"),
    "Jadlog": ("jadlog", "Jadlog"),
    "Loggi": ("loggi", "Loggi"),
    "Shopee Envios": ("shopee_xpress", "Shopee Xpress"),
    "Total Express": ("total_express", "Total Express"),
    "J&T Express": ("jt_express", "J&T Express"),
    "Transportadora": ("braspress", "Braspress"),  # its transportador.nome is always Braspress
    "Motoboy": None,
    "Retirada na loja": None,
}
# Carriers with a public tracking page addressed by the code alone; Mercado Envios tracks inside
# the marketplace account and Braspress by invoice, so they have no URL of their own.
CARRIERS_WITH_URL = {"correios", "jadlog", "loggi", "total_express", "jt_express", "shopee_xpress"}


# -- the expected import, from the sandbox's truth ------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _phone(value: str | None) -> str | None:
    """Digits only, a leading + kept (the product's documented storage of a phone)."""
    if not value or len(re.sub(r"\D", "", value)) < 8:
        return None
    digits = re.sub(r"\D", "", value)
    return "+" + digits if value.strip().startswith("+") else digits


def _email(value: str | None) -> str | None:
    return value.strip().lower() if value and "@" in value else None


def _address(endereco: dict[str, Any] | None) -> dict[str, Any]:
    endereco = endereco or {}
    zip_digits = re.sub(r"\D", "", endereco.get("cep") or "")
    return {
        "street": _text(endereco.get("endereco")),
        "number": _text(endereco.get("numero")),
        "complement": _text(endereco.get("complemento")),
        "district": _text(endereco.get("bairro")),
        "city": _text(endereco.get("municipio")),
        "state": _text(endereco.get("uf")),
        "zip": zip_digits or None,
        "country": _text(endereco.get("pais")),
    }


def _customer(cliente: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cliente:
        return None
    document = re.sub(r"[\s./-]", "", cliente.get("cpfCnpj") or "").upper() or None
    return {
        "name": _text(cliente.get("nome")),
        "document": document,
        "phone": _phone(cliente.get("celular")) or _phone(cliente.get("telefone")),
        "email": _email(cliente.get("email")),
        "address": _address(cliente.get("endereco")),
    }


def expected_shipping_address(truth: dict[str, Any], with_invoice: bool) -> dict[str, Any] | None:
    """PRODUCT.md: the order's enderecoEntrega when Tiny has one, else the customer's address.
    Kanglu reads enderecoEntrega on the invoice listing, so it has it once the invoice is in;
    a delivery address without a recipient goes to the customer."""
    customer = _customer(truth["pedido"].get("cliente"))
    entrega = truth["enderecoEntrega"]
    if with_invoice and entrega and any(_address(entrega).values()):
        name = _text(entrega.get("nomeDestinatario")) or (customer["name"] if customer else None)
        return {"name": name, **_address(entrega)}
    if customer and any(customer["address"].values()):
        return {"name": customer["name"], **customer["address"]}
    return None


def _created_at(text: str) -> str:
    if len(text) == 10:
        return text  # a date: ISO 8601 already
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SAO_PAULO).isoformat()


def _total(valor: str, dataset: Any, order_id: int) -> str:
    if not valor:
        # Listed as "": the total comes from the detail's valorTotalPedido (0 for an order
        # without items).
        cents = next(o.cents for o in dataset.orders if o.id == order_id) or 0
        return f"{cents // 100}.{cents % 100:02d}"
    units, _, cents = valor.partition(".")
    return f"{int(units)}.{(cents + '00')[:2]}"


class UrlWithCode:
    """The carrier's own public tracking URL for `code` (Kanglu's registry knows it; the sandbox
    gives none for this forma): an https URL that carries the code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith("https://") and self.code in other

    def __repr__(self) -> str:
        return f"<https URL with {self.code}>"


def expected_order(
    account: Account, truth: dict[str, Any], actual: dict[str, Any] | None, *, imported_before: bool = False
) -> dict[str, Any]:
    """The API order Kanglu should show for `truth`, except ids. `actual` (the API's order)
    is read only for the carrier of an order whose listing hides its transportador."""
    pedido = truth["pedido"]
    situacao = pedido["situacao"]
    nota = truth["nota"]
    # The invoice is looked for in the invoiced situações; once imported it stays with the order.
    with_invoice = nota is not None and nota["situacao"] in AUTHORISED_NOTA and (situacao in INVOICED or imported_before)
    invoice = None
    if with_invoice:
        invoice = {"number": str(int(nota["numero"])), "series": str(int(nota["serie"])),
                   "access_key": nota["chaveAcesso"]}

    transportador = pedido.get("transportador")  # None: null or absent in the listing
    forma_envio = truth["formaEnvio"]
    forma = account.dataset.formas_by_id[forma_envio["id"]] if forma_envio else None
    known = CARRIERS[forma_envio["nome"]] if forma_envio else None
    if transportador is not None:
        carrier = known if transportador.get("formaEnvio") else None
    else:
        # Only the tracking code's shape is left: unknown is fine, another carrier is not.
        seen = actual["carrier"] if actual else None
        seen = (seen["code"], seen["name"]) if seen else None
        assert seen in (None, known), f"order {truth['id']}: carrier {seen}, the forma says {known}"
        carrier = seen

    order_code = _text(transportador.get("codigoRastreamento")) if transportador else None
    invoice_code = nota["codigoRastreamento"] if with_invoice else None
    code = order_code or invoice_code
    url = _text(transportador.get("urlRastreamento")) if transportador else None
    if url is None and invoice_code:
        url = _text(payloads.tracking_url(forma, invoice_code))  # what the nota's urlRastreamento says
    if url is None and code and carrier and carrier[0] in CARRIERS_WITH_URL:
        url = UrlWithCode(code)

    if situacao == 6:
        status = "delivered"
    elif situacao == 2:
        status = "cancelled"
    else:
        status = "tracking" if carrier and code else "waiting_data"
    return {
        "erp_order_id": truth["id"],
        "number": str(pedido["numeroPedido"]),
        "ecommerce_number": _text((pedido.get("ecommerce") or {}).get("numeroPedidoEcommerce")),
        "situacao": situacao,
        "total": _total(pedido["valor"], account.dataset, truth["id"]),
        "created_at": _created_at(pedido["dataCriacao"]),
        "customer": _customer(pedido.get("cliente")),
        "invoice": invoice,
        "carrier": None if carrier is None else {"code": carrier[0], "name": carrier[1]},
        "tracking_code": code,
        "tracking_url": url,
        "tracking_status": status,
        "import_error": None,
        # The only warning a clean sandbox order can carry: a carrier no rule identifies.
        "warnings": ["carrier"] if carrier is None else [],
        "shipping_address": expected_shipping_address(truth, with_invoice),
    }


def comparable(order: dict[str, Any]) -> dict[str, Any]:
    """The API order without the ids Kanglu assigns."""
    result = {k: v for k, v in order.items() if k != "id"}
    result["warnings"] = [w["field"] for w in result["warnings"]]
    if result["customer"] is not None:
        result["customer"] = {k: v for k, v in result["customer"].items() if k != "id"}
    return result


# -- reading Kanglu ---------------------------------------------------------------------------


def api_orders(client: FlaskClient, api_key: str) -> dict[int, dict[str, Any]]:
    """Every order of the key's merchant, through GET /api/v1/orders, by ERP order id."""
    orders: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = client.get(f"/api/v1/orders?page={page}&per_page=100", headers={"Authorization": f"Bearer {api_key}"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_json()
        orders.extend(body["items"])
        if page * body["per_page"] >= body["total"]:
            assert len(orders) == body["total"]
            break
        page += 1
    by_erp_id = {o["erp_order_id"]: o for o in orders}
    assert len(by_erp_id) == len(orders), "an order listed twice"
    return by_erp_id


def make_poll_due(world: Deployment) -> None:
    """The next `--once` polls again now, whatever the poll interval."""
    with world.container.adapters.engine().begin() as connection:
        connection.execute(update(jobs).where(jobs.c.kind == JobKind.POLL).values(due_at=datetime.now(UTC)))


def assert_store_invariants(world: Deployment, connection_id: int, orders: dict[int, dict[str, Any]]) -> None:
    """Rows as the API shows them: one order row per ERP order, one customer per document per
    merchant, at most one active shipment per order, and a running one exactly where tracking."""
    merchant_id = world.scalar("SELECT merchant_id FROM erp_connections WHERE id = :id", id=connection_id)
    rows = world.rows("SELECT erp_order_id FROM orders WHERE connection_id = :id", id=connection_id)
    assert Counter(r.erp_order_id for r in rows) == Counter(set(orders)), "orders table differs from the API"

    documents = [r.document for r in world.rows(
        "SELECT document FROM customers WHERE merchant_id = :m AND document IS NOT NULL", m=merchant_id)]
    assert len(documents) == len(set(documents)), "two customers with one document"
    shown = {o["customer"]["document"]: o["customer"]["id"] for o in orders.values() if o["customer"]}
    for order in orders.values():
        if order["customer"] and order["customer"]["document"]:
            assert order["customer"]["id"] == shown[order["customer"]["document"]]
    assert {getattr(d, "value", d) for d in documents} >= {d for d in shown if d}

    active = world.rows(
        "SELECT o.erp_order_id, s.status, s.carrier_code, s.tracking_code FROM shipments s "
        "JOIN orders o ON o.id = s.order_id WHERE o.connection_id = :id AND s.active", id=connection_id)
    per_order = Counter(r.erp_order_id for r in active)
    assert all(n == 1 for n in per_order.values()), f"orders with several active shipments: {per_order}"
    running = {r.erp_order_id: (r.carrier_code, r.tracking_code) for r in active if r.status == "tracking"}
    assert running == {
        erp_id: (o["carrier"]["code"], o["tracking_code"]) for erp_id, o in orders.items()
        if o["tracking_status"] == "tracking"
    }


# -- the test -----------------------------------------------------------------------------------


@pytest.fixture
def world(sqlite_deployment: Callable[..., Any]) -> Iterator[Deployment]:
    # A tracking code added to a nota already read is found at the next poll, not within the hour.
    with sqlite_deployment(KANGLU_INVOICE_RECHECK="0") as deployment:
        yield deployment


def _pick(truths: list[dict[str, Any]], taken: set[int], what: str, test: Callable[[dict[str, Any]], bool]) -> int:
    for truth in truths:
        if truth["id"] not in taken and test(truth):
            taken.add(truth["id"])
            return truth["id"]
    raise AssertionError(f"the fixed seed has no order that is {what}: pick another seed")


def test_import_matches_the_sandbox_and_follows_its_changes(world: Deployment) -> None:
    main = world.new_account(orders=40, seed=4246, malformed_rate=0)
    # Alphanumeric CNPJs: the company's (so the access keys carry letters) and some customers'.
    other = world.new_account(orders=25, seed=777, malformed_rate=0, alphanumeric_cnpj=True)
    accounts = {world.connect(main): main, world.connect(other): other}
    client = create_app(world.container).test_client()

    world.run_once()

    before: dict[int, dict[int, dict[str, Any]]] = {}
    for connection_id, account in accounts.items():
        truths = world.truth(account)
        assert not any(t["malformed"] for t in truths)
        orders = api_orders(client, world.api_keys[connection_id])
        expected_ids = {t["id"] for t in truths if t["situacao"] in DEFAULT_ACTIONS and not t["origemPedido"]}
        assert set(orders) == expected_ids, (
            f"missing {sorted(expected_ids - set(orders))}, extra {sorted(set(orders) - expected_ids)}")
        for truth in truths:
            if truth["id"] in orders:
                actual = orders[truth["id"]]
                assert comparable(actual) == expected_order(account, truth, actual), f"order {truth['id']}"
        assert_store_invariants(world, connection_id, orders)
        before[connection_id] = orders
    main_connection = next(c for c, a in accounts.items() if a is main)
    first = before[main_connection]
    # The fixed seeds cover what matters: every status, invoices with letters in the key.
    assert {o["tracking_status"] for o in first.values()} == {"waiting_data", "tracking", "delivered", "cancelled"}
    other_keys = [o["invoice"]["access_key"] for c, os in before.items() if c != main_connection
                  for o in os.values() if o["invoice"]]
    assert other_keys and all(re.search("[A-Z]", k[6:20]) for k in other_keys)

    # -- life in Tiny --------------------------------------------------------------------------
    truths = world.truth(main)
    taken: set[int] = set()
    path = f"/accounts/{main.id}/orders"
    with_codes = {f.id for f in main.dataset.formas if f.make_code is not None and CARRIERS[f.nome]}

    def waiting(t: dict[str, Any]) -> bool:
        return bool(
            t["id"] in first and first[t["id"]]["tracking_status"] == "waiting_data" and t["situacao"] in (1, 7)
            and (t["pedido"].get("transportador") or {}).get("formaEnvio") and t["formaEnvio"]["id"] in with_codes)

    gets_code = _pick(truths, taken, "imported, waiting for its tracking code", waiting)
    gets_invoice_code = _pick(truths, taken, "imported, waiting for its tracking code, with an invoice",
                              lambda t: waiting(t) and first[t["id"]]["invoice"] is not None)
    cancelled = _pick(truths, taken, "tracking, to be cancelled",
                      lambda t: t["id"] in first and first[t["id"]]["tracking_status"] == "tracking")
    delivered = _pick(truths, taken, "shipped and tracking, to be delivered", lambda t: (
        t["id"] in first and first[t["id"]]["tracking_status"] == "tracking" and t["situacao"] == 5))
    moved_out = _pick(truths, taken, "tracking, to leave the mapping",
                      lambda t: t["id"] in first and first[t["id"]]["tracking_status"] == "tracking")
    invoiced = _pick(truths, taken, "not imported and without invoice",
                     lambda t: t["id"] not in first and t["nota"] is None and t["situacao"] in (0, 3)
                     and not t["origemPedido"])
    new_code = world.sandbox_call("PUT", f"{path}/{gets_code}/tracking")["codigoRastreamento"]
    # Only the NF-e gets the code (Tiny often has it there first): the order's own stays empty.
    invoice_code = world.sandbox_call(
        "PUT", f"{path}/{gets_invoice_code}/tracking", target="invoice")["nota"]["codigoRastreamento"]
    world.sandbox_call("PUT", f"{path}/{cancelled}/situacao", situacao=2)
    world.sandbox_call("PUT", f"{path}/{delivered}/situacao", situacao=6)
    world.sandbox_call("PUT", f"{path}/{moved_out}/situacao", situacao=8)
    world.sandbox_call("POST", f"{path}/{invoiced}/invoice", situacao=6)
    world.sandbox_call("PUT", f"{path}/{invoiced}/situacao", situacao=1)
    orders_before = world.scalar("SELECT COUNT(*) FROM orders")
    shipments_before = world.scalar("SELECT COUNT(*) FROM shipments")

    make_poll_due(world)
    world.run_once()

    # The other account did not change at all.
    for connection_id in before:
        if connection_id != main_connection:
            assert api_orders(client, world.api_keys[connection_id]) == before[connection_id]
    after = api_orders(client, world.api_keys[main_connection])
    changed = {gets_code, gets_invoice_code, cancelled, delivered, moved_out, invoiced}
    assert set(after) == set(first) | {invoiced}
    for erp_id in set(first) - changed:
        assert after[erp_id] == first[erp_id], f"order {erp_id} changed although Tiny did not change it"
    truth_now = {t["id"]: t for t in world.truth(main)}
    for erp_id in changed - {moved_out}:
        expected = expected_order(main, truth_now[erp_id], after[erp_id], imported_before=erp_id in first)
        assert comparable(after[erp_id]) == expected, f"order {erp_id}"

    assert after[gets_code]["tracking_code"] == new_code and after[gets_code]["tracking_status"] == "tracking"
    assert after[gets_invoice_code]["tracking_code"] == invoice_code
    assert after[gets_invoice_code]["tracking_status"] == "tracking"
    assert after[cancelled]["tracking_status"] == "cancelled"
    assert after[cancelled]["invoice"] == first[cancelled]["invoice"] is not None
    assert after[delivered]["tracking_status"] == "delivered"
    assert after[invoiced]["invoice"] is not None and after[invoiced]["situacao"] == 1
    # Out of the mapping ("ignore"): the order stays, with Tiny's new situação; its data, invoice
    # included, and its tracking are left as they were (PRODUCT.md: ignore neither imports nor
    # stops tracking; the merchant decides by mapping 8 to an action).
    assert after[moved_out] == {**first[moved_out], "situacao": 8}

    # No duplicates: one new order row, one new shipment per fresh tracking code; the others
    # were closed in place.
    assert world.scalar("SELECT COUNT(*) FROM orders") == orders_before + 1
    new_shipments = 2 + (after[invoiced]["tracking_status"] == "tracking")
    assert world.scalar("SELECT COUNT(*) FROM shipments") == shipments_before + new_shipments
    closed = {r.erp_order_id: r.status for r in world.rows(
        "SELECT o.erp_order_id, s.status FROM shipments s JOIN orders o ON o.id = s.order_id "
        "WHERE o.erp_order_id IN (:c, :d)", c=cancelled, d=delivered)}
    assert closed == {cancelled: "cancelled", delivered: "delivered"}
    for connection_id in accounts:
        assert_store_invariants(world, connection_id, api_orders(client, world.api_keys[connection_id]))
