"""The sandbox's generated dataset: deterministic, valid by Kanglu's own validators, and as messy as
real Tiny payloads."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanglu.domain.access_keys import AccessKey
from kanglu.domain.documents import Document
from kanglu.domain.errors import InvalidValue
from kanglu.domain.tracking_codes import TrackingCode
from kanglu.sandbox import identifiers as ids
from kanglu.sandbox import payloads
from kanglu.sandbox.clock import DAY
from kanglu.sandbox.dataset import SPREAD_DAYS, Dataset
from kanglu.sandbox.draws import make_customer
from kanglu.sandbox.model import Malformed, Quirk

ANCHOR = 1_795_000_400
seeds = st.integers(0, 2**48)


@pytest.fixture(scope="module")
def big() -> Dataset:
    return Dataset(42, 3000, ANCHOR, malformed_rate=0.0)


@given(seeds, st.booleans())
def test_generated_cpfs_and_cnpjs_are_valid_and_corruption_is_caught(seed: int, alphanumeric: bool) -> None:
    rng = random.Random(seed)
    cpf, cnpj = ids.cpf(rng), ids.cnpj(rng, alphanumeric)
    assert Document.parse(cpf).value == cpf
    assert Document.parse(ids.format_cpf(cpf)).value == cpf
    assert Document.parse(ids.format_cnpj(cnpj)).value == cnpj
    assert (not cnpj[:12].isdigit()) is alphanumeric
    for spoilt in (ids.corrupt_document(cpf), ids.corrupt_document(cnpj)):
        with pytest.raises(InvalidValue):
            Document.parse(spoilt)


@given(seeds, st.booleans(), st.sampled_from(["55", "65"]), st.sampled_from(sorted(ids.UF_IBGE)))
def test_generated_access_keys_are_valid_and_corruption_is_caught(seed, alphanumeric, model, uf) -> None:
    rng = random.Random(seed)
    issuer = ids.cnpj(rng, alphanumeric)
    key = ids.access_key(uf, rng.randint(2020, 2030), rng.randint(1, 12), issuer, model, rng.randint(0, 999),
                         rng.randint(1, 10**9 - 1), rng.randrange(10**8))
    parsed = AccessKey.parse(key)
    assert parsed.issuer_cnpj == issuer and parsed.model == model and parsed.uf == uf
    with pytest.raises(InvalidValue):
        AccessKey.parse(ids.corrupt_access_key(key))


@given(seeds, st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2))
def test_generated_s10_codes_are_valid_and_corruption_is_caught(seed: int, service: str) -> None:
    code = ids.s10(random.Random(seed), service)
    assert TrackingCode.parse(code).is_s10
    with pytest.raises(InvalidValue):
        TrackingCode.parse(ids.corrupt_s10(code))


def test_the_same_seed_and_anchor_give_the_same_payloads() -> None:
    a, b = Dataset(7, 150, ANCHOR, 0.1), Dataset(7, 150, ANCHOR, 0.1)
    assert [payloads.pedido_listing(a, o) for o in a.orders] == [payloads.pedido_listing(b, o) for o in b.orders]
    assert [payloads.nota_detail(a, i) for i in a.invoices] == [payloads.nota_detail(b, i) for i in b.invoices]
    assert payloads.info(a.company) == payloads.info(b.company)
    c = Dataset(8, 150, ANCHOR, 0.1)
    assert [o.id for o in c.orders] != [o.id for o in a.orders]


def test_malformed_rate_spoils_orders_without_changing_the_others() -> None:
    clean, spoilt = Dataset(9, 400, ANCHOR), Dataset(9, 400, ANCHOR, malformed_rate=0.25)
    assert [o.id for o in clean.orders] == [o.id for o in spoilt.orders]
    changed = [o for o in spoilt.orders if o.malformed is not None]
    assert 40 < len(changed) < 160
    assert {o.malformed for o in changed} == set(Malformed)
    untouched = [o for o in spoilt.orders if o.malformed is None]
    assert [payloads.pedido_listing(spoilt, o) for o in untouched] == [
        payloads.pedido_listing(clean, clean.orders_by_id[o.id]) for o in untouched]


@settings(max_examples=15, deadline=None)
@given(seeds)
def test_malformed_orders_fail_kanglus_validators_for_the_reason_given(seed: int) -> None:
    dataset = Dataset(seed, 150, ANCHOR, malformed_rate=0.4)
    for order in dataset.orders:
        if order.malformed is Malformed.CPF:
            with pytest.raises(InvalidValue):
                Document.parse(payloads.pedido_listing(dataset, order)["cliente"]["cpfCnpj"])
        elif order.malformed is Malformed.ACCESS_KEY:
            with pytest.raises(InvalidValue):
                AccessKey.parse(payloads.nota_listing(dataset, order.invoice)["chaveAcesso"])
        elif order.malformed is Malformed.TRACKING_CODE:
            with pytest.raises(InvalidValue):
                TrackingCode.parse(payloads.pedido_listing(dataset, order)["transportador"]["codigoRastreamento"])


def test_every_generated_identifier_passes_kanglus_validators(big: Dataset) -> None:
    assert Document.parse(big.company.cnpj)
    documents = 0
    for order in big.orders:
        customer = make_customer(order.customer_seed)
        if customer.document:
            document = payloads.document_text(customer, order)
            assert Document.parse(document).value == customer.document
            documents += 1
        for code in (order.tracking_code, order.invoice.tracking_code if order.invoice else None):
            if code:
                TrackingCode.parse(code)
    assert documents > 2500
    keys = [i for i in big.invoices if i.chave]
    assert len(keys) > 1000
    for invoice in keys:
        key = AccessKey.parse(invoice.chave)
        assert key.issuer_cnpj == big.company.cnpj
        assert key.number == invoice.numero
        assert key.model == invoice.model


def test_authorised_invoices_only_have_keys(big: Dataset) -> None:
    for invoice in big.invoices:
        nota = payloads.nota_listing(big, invoice)
        if invoice.situacao in (2, 6, 7, 3):
            assert len(nota["chaveAcesso"]) == 44
        else:
            assert nota["chaveAcesso"] == "" and nota["dataEmissao"] == ""


def test_every_situacao_appears_with_a_realistic_mix(big: Dataset) -> None:
    counts = Counter(o.situacao for o in big.orders)
    assert set(counts) == {8, 0, 3, 4, 1, 7, 5, 6, 2, 9}
    main = sum(counts[s] for s in (1, 7, 5, 6))
    assert main > 0.6 * len(big.orders)
    assert all(counts[s] < counts[6] for s in (0, 3, 4, 8, 2, 9))


def test_dates_spread_over_sixty_days_and_updates_follow_creation(big: Dataset) -> None:
    for order in big.orders:
        assert ANCHOR - SPREAD_DAYS * DAY <= order.created <= order.updated <= ANCHOR
        if order.invoice is not None:
            assert order.created <= order.invoice.emitted <= ANCHOR
    assert max(o.created for o in big.orders) - min(o.created for o in big.orders) > 55 * DAY
    ids_in_order = [o.id for o in big.orders]
    assert ids_in_order == sorted(ids_in_order) and len(set(ids_in_order)) == len(ids_in_order)
    assert [o.created for o in big.orders] == sorted(o.created for o in big.orders)


def test_the_real_payload_quirks_all_appear(big: Dataset) -> None:
    listings = [payloads.pedido_listing(big, o) for o in big.orders]
    quirks = Counter()
    for body in listings:
        cliente = body.get("cliente", "absent")
        quirks["cliente null"] += cliente is None
        quirks["cliente absent"] += cliente == "absent"
        quirks["transportador null"] += "transportador" in body and body["transportador"] is None
        quirks["transportador absent"] += "transportador" not in body
        quirks["ecommerce null"] += "ecommerce" in body and body["ecommerce"] is None
        quirks["ecommerce absent"] += "ecommerce" not in body
        quirks['valor ""'] += body["valor"] == ""
        quirks['valor "" of an approved order'] += body["valor"] == "" and body["situacao"] in (0, 3, 8)
        quirks['valor "" of a shipped order'] += body["valor"] == "" and body["situacao"] in (5, 6)
        quirks["valor with cents"] += "." in body["valor"]
        quirks["valor whole"] += body["valor"].isdigit()
        quirks['dataPrevista ""'] += body["dataPrevista"] == ""
        quirks["vendedor null"] += body["vendedor"] is None
        if isinstance(cliente, dict):
            quirks["endereco null"] += cliente["endereco"] is None
            quirks["celular empty, telefone present"] += cliente["celular"] == "" and cliente["telefone"] != ""
            quirks["formatted document"] += "." in cliente["cpfCnpj"]
            quirks["bare document"] += cliente["cpfCnpj"].isalnum()
            quirks["no document (foreigner)"] += cliente["cpfCnpj"] == "" and cliente["tipoPessoa"] == "E"
            quirks["alphanumeric CNPJ"] += len(cliente["cpfCnpj"]) >= 14 and not cliente["cpfCnpj"][:2].isdigit()
            quirks['email ""'] += cliente["email"] == ""
        transportador = body.get("transportador")
        if transportador:
            quirks["codigoRastreamento null"] += transportador["codigoRastreamento"] is None
            quirks['codigoRastreamento ""'] += transportador["codigoRastreamento"] == ""
            quirks["formaEnvio null"] += transportador["formaEnvio"] is None
    notas = [payloads.nota_listing(big, i) for i in big.invoices]
    quirks["nota numero as string"] = sum(isinstance(n["numero"], str) and n["numero"].startswith("0") for n in notas)
    quirks["nota numero as number"] = sum(isinstance(n["numero"], int) for n in notas)
    quirks["nota situacao as string"] = sum(isinstance(n["situacao"], str) for n in notas)
    quirks["tracking only on the invoice"] = sum(
        1 for o in big.orders if o.invoice and o.invoice.tracking_code and not o.tracking_code)
    quirks["returning customer"] = len(big.orders) - len({o.customer_seed for o in big.orders})
    missing = [name for name, n in quirks.items() if n == 0]
    assert not missing, missing
    assert len(quirks) == 28  # every quirk above was looked for


def test_shipping_services_cover_the_families_and_code_shapes(big: Dataset) -> None:
    by_family = Counter(o.forma.tipo for o in big.orders if o.forma is not None)
    assert {1, 2, 3, 6, 7, 8, 12, 17, 0} <= set(by_family)
    correios_codes = [o.tracking_code for o in big.orders if o.forma and o.forma.tipo == 1 and o.tracking_code]
    assert correios_codes and all(TrackingCode.parse(c).is_s10 for c in correios_codes)
    jadlog = [o.tracking_code for o in big.orders if o.forma and o.forma.tipo == 7 and o.tracking_code]
    assert jadlog and all(len(c) == 14 and c.isdigit() for c in jadlog)
    fretes = {o.frete.nome for o in big.orders if o.frete is not None}
    assert {"SEDEX", "PAC", "Mini Envios", ".Package", ".Com"} <= fretes
    carriers = {payloads.carrier_name(o.forma, o) for o in big.orders if o.forma is not None and o.forma.tipo == 2}
    assert "Braspress Transportes Urgentes Ltda" in carriers or "Braspress" in carriers


def test_brazilian_places_vary(big: Dataset) -> None:
    customers = [make_customer(o.customer_seed) for o in big.orders]
    assert len({c.endereco.uf for c in customers}) >= 20
    assert len({c.endereco.municipio for c in customers}) >= 30
    for c in customers:
        cep = c.endereco.cep.replace("-", "")
        assert len(cep) == 8 and cep.isdigit()


def test_quirk_flags_never_conflict(big: Dataset) -> None:
    for order in big.orders:
        assert not (order.quirks & Quirk.CLIENTE_NULL and order.quirks & Quirk.CLIENTE_ABSENT)
        assert not (order.quirks & Quirk.TRANSPORTADOR_NULL and order.quirks & Quirk.TRANSPORTADOR_ABSENT)


def test_accounts_date_their_orders_with_or_without_the_time() -> None:
    with_time = Dataset(3, 5, ANCHOR, creation_with_time=True)
    without = Dataset(3, 5, ANCHOR, creation_with_time=False)
    assert all(len(payloads.pedido_listing(with_time, o)["dataCriacao"]) == 19 for o in with_time.orders)
    assert all(len(payloads.pedido_listing(without, o)["dataCriacao"]) == 10 for o in without.orders)
    drawn = {Dataset(seed, 0, ANCHOR).creation_with_time for seed in range(30)}
    assert drawn == {True, False}


def test_orders_are_generated_once_on_first_use_whoever_asks_first() -> None:
    eager = Dataset(21, 300, ANCHOR)
    eager_ids = [o.id for o in eager.orders]
    lazy = Dataset(21, 300, ANCHOR)
    assert lazy.order_count == 300
    assert payloads.info(lazy.company) == payloads.info(eager.company)
    seen: list[list[int]] = []
    threads = [threading.Thread(target=lambda: seen.append([o.id for o in lazy.orders])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [eager_ids] * 8
    assert len(lazy.orders_by_id) == 300


def test_an_alphanumeric_issuer_puts_its_letters_in_the_access_keys() -> None:
    dataset = Dataset(33, 200, ANCHOR, alphanumeric_cnpj=True)
    assert not dataset.company.cnpj[:12].isdigit()
    keys = [AccessKey.parse(i.chave) for i in dataset.invoices if i.chave]
    assert keys and all(k.issuer_cnpj == dataset.company.cnpj for k in keys)
    assert {k.model for k in keys} <= {"55", "65"}


def test_a_few_percent_of_orders_list_an_empty_valor(big: Dataset) -> None:
    """Realistic, and what bench_tiny_calls pays a detail call for: a few %, not a third."""
    empty = sum(payloads.pedido_listing(big, o)["valor"] == "" for o in big.orders)
    assert 0.015 <= empty / len(big.orders) <= 0.04
