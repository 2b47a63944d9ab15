"""Tiny's payloads into domain types: every quirk of TINY_API.md, and garbage never raising."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanglu.adapters.tiny.conversion import GENERIC_REASON, json_safe, masked, order_from_detail, order_from_listing
from kanglu.adapters.tiny.notas import invoice_from_nota, nota_from_payload, order_id_of, without_leading_zeros
from kanglu.adapters.tiny.structuring import parse_tiny_date
from kanglu.adapters.tiny.http import parse_json
from kanglu.domain.documents import DocumentKind
from kanglu.domain.money import Money
from kanglu.domain.customers import Address
from kanglu.domain.orders import ErpOrder, MalformedOrder, ShippingAddress
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking_codes import s10_check_digit
from tests.builders import access_key, cpf, s10
from tests.strategies import cnpjs, format_cnpj
from tests.unit.tiny.fake_tiny import listing_item, nota_item


def from_wire(item: dict[str, Any]) -> ErpOrder | MalformedOrder:
    """Through JSON text and the adapter's parser, as an answer would arrive."""
    return order_from_listing(parse_json(json.dumps(item).encode()))


def good(item: dict[str, Any]) -> ErpOrder:
    result = from_wire(item)
    assert isinstance(result, ErpOrder), result
    return result


def bad(item: dict[str, Any]) -> MalformedOrder:
    result = from_wire(item)
    assert isinstance(result, MalformedOrder), result
    return result


# -- a complete listing item --------------------------------------------------------------


def test_a_full_listing_item_becomes_the_order_kanglu_imports() -> None:
    order = good(listing_item(42))
    assert order.erp_order_id == 42
    assert order.situacao is Situacao.ENVIADA
    assert order.number == "10042"  # numeroPedido is an integer in the spec
    assert order.ecommerce_number == "MLB-42"
    assert order.total == Money(Decimal("1234.50"))
    assert order.created_at == datetime(2026, 6, 20, 10, 30)
    assert order.customer is not None
    assert order.customer.document is not None and order.customer.document.value == cpf(42)
    assert order.customer.phone == "11988887777"  # celular wins over telefone
    assert order.customer.email == "c42@example.com"
    assert order.customer.erp_customer_id == 5042
    assert order.customer.address is not None and order.customer.address.zip == "01001000"
    assert order.customer.address.city == "São Paulo"
    assert order.shipping.service_id == 3
    assert order.shipping.service_name == "Correios"
    assert order.shipping.freight_name == "SEDEX"
    assert order.shipping.carrier_name == "Correios"
    assert order.tracking_code == s10(42)
    assert order.invoice is None  # the listing never carries it


# -- valor ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("valor", "expected"), [("598", "598.00"), ("1234.50", "1234.50"), ("1.234,50", "1234.50")])
def test_valor_arrives_as_a_string(valor: str | None, expected: str) -> None:
    order = good(listing_item(1, valor=valor))
    assert order.total == Money(Decimal(expected))
    assert order.warnings == ()


@pytest.mark.parametrize("valor", ["", None])
def test_an_empty_valor_is_an_unknown_total_with_a_warning_never_zero(valor: str | None) -> None:
    order = good(listing_item(1, valor=valor))
    assert order.total is None and order.lacks_total
    assert [w.field for w in order.warnings] == ["total"]


def test_a_numeric_valor_is_exact_because_floats_never_get_in() -> None:
    body = b'{"id": 1, "situacao": 5, "valor": 1234.10}'
    raw = parse_json(body)
    assert isinstance(raw["valor"], Decimal)
    assert good_raw(raw).total == Money(Decimal("1234.10"))


def good_raw(raw: dict[str, Any]) -> ErpOrder:
    result = order_from_listing(raw)
    assert isinstance(result, ErpOrder), result
    return result


def test_a_float_that_slipped_in_is_refused_rather_than_rounded() -> None:
    result = order_from_listing({"id": 1, "situacao": 5, "valor": 0.1})
    assert isinstance(result, ErpOrder) and result.total is None
    assert [w.field for w in result.warnings] == ["total"]


def test_detail_total_is_a_number_and_stays_exact() -> None:
    raw = parse_json(b'{"id": 9, "situacao": "1", "numeroPedido": 77, "valorTotalPedido": 99.99, "data": "2026-06-01",'
                     b' "idNotaFiscal": 555, "cliente": null, "transportador": null}')
    order, invoice_id = order_from_detail(raw)
    assert isinstance(order, ErpOrder)
    assert order.total == Money(Decimal("99.99"))
    assert order.created_at == date(2026, 6, 1)
    assert invoice_id == 555


# -- numbers as strings, dates ----------------------------------------------------------------


def test_ids_and_situacao_as_strings_are_read_as_numbers() -> None:
    order = good(listing_item(1, id="321", situacao="6"))
    assert order.erp_order_id == 321
    assert order.situacao is Situacao.ENTREGUE


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-06-20", date(2026, 6, 20)),
    ("2026-06-20 08:05:01", datetime(2026, 6, 20, 8, 5, 1)),
    ("20/06/2026", date(2026, 6, 20)),
    ("", None),
    ("   ", None),
    (None, None),
    ("0000-00-00", None),
    ("0000-00-00 00:00:00", None),
    ("não é data", None),
])
def test_dates_come_in_sao_paulo_local_forms_or_empty(text: str | None, expected: object) -> None:
    assert parse_tiny_date(text) == expected


def test_absent_or_empty_creation_date_is_none() -> None:
    item = listing_item(1)
    del item["dataCriacao"]
    assert good(item).created_at is None
    assert good(listing_item(1, dataCriacao="")).created_at is None


# -- nullable objects --------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", [], "absent"])
@pytest.mark.parametrize("field", ["cliente", "transportador", "ecommerce"])
def test_objects_may_be_null_absent_empty_string_or_empty_list(field: str, empty: object) -> None:
    item = listing_item(1)
    if empty == "absent":
        del item[field]
    else:
        item[field] = empty
    order = good(item)
    if field == "cliente":
        assert order.customer is None
    elif field == "transportador":
        assert order.tracking_code is None and order.shipping.service_id is None
    else:
        assert order.ecommerce_number is None


@pytest.mark.parametrize("empty", [None, "", [], "absent"])
def test_address_may_be_missing(empty: object) -> None:
    item = listing_item(1)
    if empty == "absent":
        del item["cliente"]["endereco"]
    else:
        item["cliente"]["endereco"] = empty
    order = good(item)
    assert order.customer is not None and order.customer.address is None


@pytest.mark.parametrize("empty", [None, "", "absent"])
def test_tracking_code_may_be_missing(empty: object) -> None:
    item = listing_item(1)
    if empty == "absent":
        del item["transportador"]["codigoRastreamento"]
    else:
        item["transportador"]["codigoRastreamento"] = empty
    assert good(item).tracking_code is None


def test_inner_references_may_be_null() -> None:
    item = listing_item(1)
    item["transportador"]["formaEnvio"] = None
    item["transportador"]["formaFrete"] = {"id": None, "nome": None}
    order = good(item)
    assert order.shipping.service_id is None and order.shipping.freight_name is None
    assert order.shipping.carrier_name == "Correios"


# -- customer ------------------------------------------------------------------------------------


def test_phone_is_the_mobile_else_the_landline() -> None:
    item = listing_item(1)
    item["cliente"]["celular"] = ""
    assert good(item).customer.phone == "1133334444"  # type: ignore[union-attr]
    item["cliente"]["celular"] = "n/d"
    assert good(item).customer.phone == "1133334444"  # type: ignore[union-attr]


@pytest.mark.parametrize("person_type", ["E", "X"])
@pytest.mark.parametrize("document", ["", None, "P1234567", "123"])
def test_foreigners_may_have_no_cpf(person_type: str, document: str | None) -> None:
    item = listing_item(1)
    item["cliente"].update(tipoPessoa=person_type, cpfCnpj=document)
    customer = good(item).customer
    assert customer is not None and customer.document is None and customer.name == "Cliente 1"


def test_a_foreigner_living_in_brazil_keeps_a_valid_cpf() -> None:
    item = listing_item(1)
    item["cliente"].update(tipoPessoa="X", cpfCnpj=cpf(7))
    assert good(item).customer.document.value == cpf(7)  # type: ignore[union-attr]


def test_formatted_and_alphanumeric_cnpj_are_accepted() -> None:
    from hypothesis import find

    value = find(cnpjs(alphanumeric=True), lambda v: any(c.isalpha() for c in v))
    item = listing_item(1)
    item["cliente"].update(tipoPessoa="J", cpfCnpj=format_cnpj(value))
    document = good(item).customer.document  # type: ignore[union-attr]
    assert document is not None and document.kind is DocumentKind.CNPJ and document.value == value


def test_a_customer_with_nothing_usable_is_no_customer() -> None:
    item = listing_item(1, cliente={"id": 0, "nome": "", "cpfCnpj": "", "email": None, "endereco": None})
    assert good(item).customer is None


# -- malformed orders --------------------------------------------------------------------------


def wrong_check_digit_cpf() -> str:
    valid = cpf(3)
    return valid[:-1] + str((int(valid[-1]) + 1) % 10)


def wrong_check_digit_s10() -> str:
    serial = "12345678"
    return f"QB{serial}{(s10_check_digit(serial) + 1) % 10}BR"


@pytest.mark.parametrize(("change", "reason_part", "erp_id"), [
    (lambda i: i.update(situacao=42), "situação desconhecida", 7),
    (lambda i: i.update(situacao=None), "situação ausente", 7),
    (lambda i: i.pop("id"), "sem um identificador utilizável", None),
    (lambda i: i.update(id="abc"), "sem um identificador utilizável", None),
])
def test_only_what_cannot_be_an_order_is_malformed_with_a_portuguese_reason_and_masked_raw(
    change: Any, reason_part: str, erp_id: int | None
) -> None:
    item = listing_item(7)
    change(item)
    result = bad(item)
    assert reason_part in result.reason
    assert result.erp_order_id == erp_id
    assert result.raw == masked(json.loads(json.dumps(item)))
    assert result.number == "10007" and result.customer_name == item["cliente"]["nome"]
    raw_text = json.dumps(result.raw)  # storable as it is
    assert item["cliente"]["cpfCnpj"] not in raw_text and item["cliente"]["email"] not in raw_text
    assert item["cliente"]["celular"] not in raw_text


@pytest.mark.parametrize(("change", "fields"), [
    (lambda i: i["cliente"].update(cpfCnpj=wrong_check_digit_cpf()), ["customer.document"]),
    (lambda i: i["transportador"].update(codigoRastreamento=wrong_check_digit_s10()), ["tracking_code"]),
    (lambda i: i.update(cliente="Maria"), ["customer"]),
    (lambda i: i["cliente"].update(nome=["Maria"]), ["customer"]),
    (lambda i: i.update(valor={"total": 1}), ["total"]),
    (lambda i: i.update(dataCriacao=20260620), ["created_at"]),
    (lambda i: i["transportador"].update(urlRastreamento="javascript:alert(1)"), ["tracking_url"]),
])
def test_a_defect_in_one_field_is_a_warning_without_internal_paths(change: Any, fields: list[str]) -> None:
    item = listing_item(7)
    change(item)
    order = good(item)
    assert [w.field for w in order.warnings] == fields
    for warning in order.warnings:
        assert "campo" not in warning.message and "cpfCnpj" not in warning.message


def test_a_carriers_own_code_that_is_not_s10_shaped_is_accepted() -> None:
    item = listing_item(1)
    item["transportador"]["codigoRastreamento"] = "JD0012345678901"
    assert good(item).tracking_code.value == "JD0012345678901"  # type: ignore[union-attr]


def test_an_unreadable_situacao_is_the_reason_even_with_other_defects() -> None:
    result = bad(listing_item(1, situacao=99, valor=[1]))
    assert "situação" in result.reason


def test_the_raw_payload_of_a_malformed_order_is_json_even_with_exact_numbers() -> None:
    raw = parse_json(b'{"id": 1, "situacao": 77, "valor": 10.50}')
    result = order_from_listing(raw)
    assert isinstance(result, MalformedOrder)
    assert json.loads(json.dumps(result.raw)) == {"id": 1, "situacao": 77, "valor": 10.5}


# -- invoices ------------------------------------------------------------------------------------


def test_invoice_number_and_series_lose_their_leading_zeros() -> None:
    nota = nota_from_payload(nota_item(21490, order_id=1, numero="021490", serie="01", situacao="7"))
    assert nota is not None and nota.situacao == 7
    invoice = invoice_from_nota(nota)
    assert (invoice.number, invoice.series) == ("21490", "1")
    assert invoice.access_key == access_key(21490)
    assert invoice.erp_invoice_id == 21490
    assert order_id_of(nota) == 1


@pytest.mark.parametrize(("text", "expected"), [("021490", "21490"), ("01", "1"), ("000", "0"), ("1", "1"),
                                                ("", None), (None, None), ("A1", "A1")])
def test_without_leading_zeros(text: str | None, expected: str | None) -> None:
    assert without_leading_zeros(text) == expected


def test_numbers_of_an_invoice_may_be_numbers_too() -> None:
    nota = nota_from_payload(nota_item(5, order_id=1, numero=21490, serie=1, situacao=6))
    assert nota is not None
    invoice = invoice_from_nota(nota)
    assert (invoice.number, invoice.series) == ("21490", "1")


def test_an_invoice_tracking_code_is_validated_too() -> None:
    nota = nota_from_payload(nota_item(5, order_id=1, codigoRastreamento=wrong_check_digit_s10()))
    assert nota is not None
    invoice = invoice_from_nota(nota)
    assert invoice.tracking_code is None
    assert [w.field for w in invoice.warnings] == ["tracking_code"]
    assert "dígito verificador" in invoice.warnings[0].message


def test_a_nota_from_something_else_than_a_sale_matches_no_order() -> None:
    nota = nota_from_payload(nota_item(5, order_id=1, origem={"id": "1", "tipo": "devolucao"}))
    assert nota is not None and order_id_of(nota) is None


def test_json_safe_keeps_exact_integers() -> None:
    assert json_safe({"a": [Decimal("1.0"), Decimal("2.5")]}) == {"a": [1, 2.5]}


# -- the property: garbage in, ErpOrder or MalformedOrder out --------------------------------

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.text(max_size=20),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.sampled_from(["", " ", "0", "1", "7", "598", "1234.50", "2026-06-20", "2026-06-20 10:00:00",
                     "AA123456785BR", "QB123456789BR", "123.456.789-09", "E", "X", "F"]),
)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=10)
FIELDS = {
    "id": JSON_VALUES, "situacao": JSON_VALUES, "numeroPedido": JSON_VALUES, "valor": JSON_VALUES,
    "dataCriacao": JSON_VALUES,
    "ecommerce": st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional={"numeroPedidoEcommerce": JSON_VALUES})),
    "cliente": st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional={
        k: JSON_VALUES for k in ("id", "nome", "fantasia", "tipoPessoa", "cpfCnpj", "telefone", "celular", "email",
                                 "endereco")})),
    "transportador": st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional={
        k: JSON_VALUES for k in ("id", "nome", "formaEnvio", "formaFrete", "codigoRastreamento", "urlRastreamento")})),
}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.one_of(st.fixed_dictionaries({}, optional=FIELDS), JSON_VALUES))
def test_any_listing_item_becomes_an_order_or_a_malformed_order_and_never_a_bug(payload: object) -> None:
    handler = _Collect()
    logger = logging.getLogger("kanglu.adapters.tiny")
    logger.addHandler(handler)
    try:
        result = order_from_listing(payload)
    finally:
        logger.removeHandler(handler)
    assert isinstance(result, ErpOrder | MalformedOrder)
    if isinstance(result, MalformedOrder):
        assert result.reason and result.reason != GENERIC_REASON
        json.dumps(result.raw)
    assert not [r for r in handler.records if r.levelno >= logging.ERROR], "garbage was taken for a bug"


def test_a_bug_in_conversion_is_logged_and_still_yields_a_malformed_order(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Our own code misbehaving (not a library): the page must survive and the bug must be loud.
    from kanglu.adapters.tiny import conversion

    def broken(_: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(conversion, "_shipping", broken)
    with caplog.at_level(logging.ERROR):
        result = order_from_listing(listing_item(3))
    assert isinstance(result, MalformedOrder)
    assert result.reason == GENERIC_REASON and result.erp_order_id == 3
    assert any(r.levelno == logging.ERROR and r.exc_info for r in caplog.records)


NOTA_FIELDS = {k: JSON_VALUES for k in ("id", "situacao", "tipo", "numero", "serie", "chaveAcesso", "dataEmissao",
                                        "codigoRastreamento", "urlRastreamento")}
NOTA_FIELDS["origem"] = st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional={"id": JSON_VALUES,
                                                                                   "tipo": JSON_VALUES}))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.one_of(st.fixed_dictionaries({}, optional=NOTA_FIELDS), JSON_VALUES),
       forma=st.one_of(st.fixed_dictionaries({}, optional={"id": JSON_VALUES, "nome": JSON_VALUES,
                                                           "tipo": JSON_VALUES}), JSON_VALUES))
def test_any_nota_or_forma_de_envio_is_read_or_skipped_and_never_a_bug(payload: object, forma: object) -> None:
    from kanglu.adapters.tiny.conversion import shipping_family
    from kanglu.adapters.tiny.notas import is_authorised
    from kanglu.domain.errors import InvalidValue
    from kanglu.domain.orders import Invoice
    from kanglu.domain.shipping import ShippingFamily

    handler = _Collect()
    logger = logging.getLogger("kanglu.adapters.tiny")
    logger.addHandler(handler)
    try:
        nota = nota_from_payload(payload)
        if nota is not None:
            order_id_of(nota)
            if is_authorised(nota):
                try:
                    assert isinstance(invoice_from_nota(nota), Invoice)
                except InvalidValue as exc:
                    assert exc.message.startswith("nota fiscal ")
        assert shipping_family(forma) is None or isinstance(shipping_family(forma), ShippingFamily)
    finally:
        logger.removeHandler(handler)
    assert not [r for r in handler.records if r.levelno >= logging.ERROR]


# -- where the parcel goes, and PDV sales -----------------------------------------------------

ENTREGA = {"endereco": " Rua  do Presente ", "numero": "12", "complemento": "Sala 1203", "bairro": "Centro",
           "municipio": "Recife", "cep": "50010-000", "uf": "PE", "pais": "Brasil",
           "nomeDestinatario": "Ana Souza", "cpfCnpj": "", "tipoPessoa": "F", "telefone": "", "inscricaoEstadual": ""}


def test_the_invoice_listing_carries_the_delivery_address_with_its_recipient() -> None:
    nota = nota_from_payload(nota_item(7, 1, enderecoEntrega=ENTREGA))
    assert nota is not None
    invoice = invoice_from_nota(nota)
    assert invoice.delivery_address == ShippingAddress(
        "Ana Souza", Address("Rua do Presente", "12", "Sala 1203", "Centro", "Recife", "PE", "50010000", "Brasil"))


@pytest.mark.parametrize("entrega", [None, "", [], {k: "" for k in ENTREGA}, {"nomeDestinatario": "Ana"}])
def test_an_empty_delivery_address_is_none_and_the_customers_address_stands(entrega: object) -> None:
    nota = nota_from_payload(nota_item(7, 1, enderecoEntrega=entrega))
    assert nota is not None and invoice_from_nota(nota).delivery_address is None
    order = order_from_listing(listing_item(1))
    assert isinstance(order, ErpOrder) and order.customer is not None
    with_invoice = attrs.evolve(order, invoice=invoice_from_nota(nota))
    assert with_invoice.shipping_address == ShippingAddress(order.customer.name, order.customer.address)


def test_a_delivery_address_kanglu_cannot_read_costs_the_address_not_the_invoice() -> None:
    nota = nota_from_payload(nota_item(7, 1, enderecoEntrega={"endereco": ["not", "text"]}))
    assert nota is not None and nota.endereco_entrega is None
    assert invoice_from_nota(nota).access_key is not None


def test_shipping_address_prefers_the_orders_own_then_the_invoices_then_the_customers() -> None:
    order = order_from_listing(listing_item(1))
    assert isinstance(order, ErpOrder) and order.customer is not None
    nota = nota_from_payload(nota_item(7, 1, enderecoEntrega=ENTREGA))
    assert nota is not None
    from_invoice = attrs.evolve(order, invoice=invoice_from_nota(nota))
    assert from_invoice.shipping_address is not None and from_invoice.shipping_address.name == "Ana Souza"
    own = ShippingAddress(None, Address(street="Avenida Paulista", number="1000", city="São Paulo"))
    # A delivery address without a recipient goes to the customer.
    assert attrs.evolve(from_invoice, delivery_address=own).shipping_address == attrs.evolve(own, name=order.customer.name)
    assert attrs.evolve(order, customer=None).shipping_address is None


def test_the_detail_carries_the_delivery_address_and_the_listing_the_origin() -> None:
    detail = {**listing_item(1), "valorTotalPedido": Decimal("10.50"), "data": "2026-06-20", "enderecoEntrega": ENTREGA}
    order, _ = order_from_detail(detail)
    assert isinstance(order, ErpOrder) and order.delivery_address is not None
    assert order.delivery_address.name == "Ana Souza"
    pdv = order_from_listing(listing_item(2, origemPedido=1))
    sale = order_from_listing(listing_item(3, origemPedido=0))
    assert isinstance(pdv, ErpOrder) and pdv.point_of_sale
    assert isinstance(sale, ErpOrder) and not sale.point_of_sale
    assert isinstance(order_from_listing(listing_item(4)), ErpOrder)  # no origemPedido at all: a sale
