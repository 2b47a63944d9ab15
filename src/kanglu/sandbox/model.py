"""The sandbox's in-memory records of one Tiny account: company, orders, invoices, customers."""

from __future__ import annotations

import enum

import attrs

from kanglu.sandbox.catalog import FormaEnvio, FormaFrete


class Quirk:
    """The holes real Tiny payloads have, recorded per order as bit flags so answers stay stable.

    Plain ints rather than an IntFlag: they are tested for every order of every page served.
    """

    NONE = 0
    CLIENTE_NULL = 1 << 0
    CLIENTE_ABSENT = 1 << 1
    ENDERECO_NULL = 1 << 2
    TRANSPORTADOR_NULL = 1 << 3
    TRANSPORTADOR_ABSENT = 1 << 4
    TRACKING_NULL = 1 << 5  # codigoRastreamento null instead of "" when there is none
    DATA_PREVISTA_EMPTY = 1 << 6
    VENDEDOR_NULL = 1 << 7
    ECOMMERCE_ABSENT = 1 << 8  # no "ecommerce" key at all (else null when there is none)
    VALOR_EMPTY = 1 << 9  # listing valor "" although the order has items (seen on open/approved orders)


# Authorised invoice situações (6 Autorizada, 7 Emitida DANFE, 2 Emitida) carry a valid key.
AUTHORISED_INVOICE = frozenset({2, 6, 7})


class Malformed(enum.StrEnum):
    """Field defects Kanglu must import with a warning; the control API tells which orders carry one."""

    CPF = "cpf_invalido"
    ACCESS_KEY = "chave_acesso_invalida"
    TRACKING_CODE = "codigo_rastreamento_invalido"


@attrs.frozen
class Address:
    endereco: str
    numero: str
    complemento: str
    bairro: str
    municipio: str
    cep: str
    uf: str
    pais: str


@attrs.frozen
class Customer:
    id: int
    nome: str
    codigo: str
    fantasia: str
    tipo_pessoa: str  # F, J, E (estrangeiro)
    document: str  # bare; "" for a foreigner
    formatted: bool  # whether payloads show the document with punctuation
    inscricao_estadual: str
    rg: str
    telefone: str
    celular: str
    email: str
    endereco: Address


@attrs.frozen
class Company:
    """The merchant's Tiny account, as GET /info shows it."""

    razao_social: str
    fantasia: str
    cnpj: str
    endereco: Address
    fone: str
    email: str
    inscricao_estadual: str
    regime_tributario: int


@attrs.frozen
class Item:
    product_id: int
    sku: str
    descricao: str
    quantidade: int
    cents: int  # unit price


@attrs.define(slots=True, eq=False)
class Invoice:
    id: int
    order_id: int
    numero: int
    model: str  # "55" NF-e, "65" NFC-e
    situacao: int
    chave: str | None  # only authorised (or once authorised) invoices have one
    emitted: float  # epoch seconds
    tracking_code: str | None
    updated: float


@attrs.define(slots=True, eq=False)
class Order:
    """An order's durable facts; the customer and items are derived again from seeds when rendered."""

    id: int
    numero: int
    seed: int
    customer_seed: int
    situacao: int
    created: float
    updated: float
    forma: FormaEnvio | None
    frete: FormaFrete | None
    tracking_code: str | None
    cents: int | None  # None: no items, the listing's valor is ""
    freight_cents: int
    ecommerce: int | None  # index into brazil.ECOMMERCES
    ecommerce_number: str | None
    origem: int  # 0 pedido de venda, 1 PDV
    invoice: Invoice | None = None
    quirks: int = Quirk.NONE
    malformed: Malformed | None = None
