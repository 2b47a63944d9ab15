"""Tiny's orders into domain types: an ErpOrder, or a MalformedOrder with a Portuguese reason.

Two steps. cattrs structures a payload into the wire classes (wire.py, read leniently by
structuring.py); then small functions build the domain objects, each field's defect a warning
(defects.py). Whatever the payload, an order becomes an ErpOrder or a MalformedOrder: it never
raises. The account's other records (formas de envio, its name) are read here too; the notas
fiscais in notas.py, the listings' paging in paging.py.
"""

import logging
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from cattrs.errors import BaseValidationError, ClassValidationError, IterableValidationError

from kanglu.adapters.tiny.defects import (
    ESSENTIAL_FIELDS,
    Defects,
    delivery_address,
    failed_paths,
    https_url,
    quoted,
    read_address,
    sentence,
    structure_leniently,
    tracking_code,
)
from kanglu.adapters.tiny.structuring import (
    describe,
    is_empty,
    leaves,
    lenient_id,
    structure_or_none,
    whole_or_none,
)
from kanglu.adapters.tiny.wire import (
    ClienteWire,
    EcommerceWire,
    EnderecoEntregaWire,
    FormaEnvioWire,
    InfoWire,
    PedidoDetalheWire,
    PedidoListagemWire,
    TransportadorWire,
)
from kanglu.domain.customers import CustomerData, clean_text, normalise_email, normalise_phone
from kanglu.domain.documents import Document
from kanglu.domain.errors import InvalidValue
from kanglu.domain.money import Money
from kanglu.domain.orders import TOTAL_FIELD, ErpOrder, MalformedOrder
from kanglu.domain.shipping import ShippingFamily, ShippingService
from kanglu.domain.situacoes import Situacao

log = logging.getLogger(__name__)

T = TypeVar("T")

FOREIGN_PERSON_TYPES = frozenset({"E", "X"})  # Estrangeiro, Estrangeiro no Brasil
GENERIC_REASON = "não foi possível ler este pedido do Tiny (erro interno da Kanglu, já registrado)"


def _document(cliente: ClienteWire, defects: Defects) -> Document | None:
    if cliente.cpf_cnpj is None:
        return None
    try:
        return Document.parse(cliente.cpf_cnpj)
    except InvalidValue as exc:
        if (cliente.tipo_pessoa or "").upper() in FOREIGN_PERSON_TYPES:
            return None  # a foreigner's passport or foreign tax id: not a CPF/CNPJ, not an error
        defects.add(
            "customer.document",
            f"{sentence(exc.message)} ({quoted(cliente.cpf_cnpj)}). O pedido foi importado sem o "
            "CPF/CNPJ do cliente; corrija o cadastro no Tiny.",
        )
        return None


def _email(text: str | None, defects: Defects) -> str | None:
    email = normalise_email(text)
    if text and email is None:
        defects.add("customer.email", f"O e-mail do cliente {quoted(text)} não tem um formato válido e ficou de fora.")
    return email


def _phone(cliente: ClienteWire, defects: Defects) -> str | None:
    # The mobile is the number that reaches the buyer; the landline only when there is none.
    found = None
    for text, what in ((cliente.celular, "O celular"), (cliente.telefone, "O telefone")):
        phone = normalise_phone(text)
        if text and phone is None:
            defects.add("customer.phone", f"{what} do cliente {quoted(text)} não parece um número de telefone e ficou de fora.")
        found = found or phone
    return found


def _customer(cliente: ClienteWire | None, defects: Defects) -> CustomerData | None:
    if cliente is None:
        return None
    document = _document(cliente, defects)
    email = _email(cliente.email, defects)
    phone = _phone(cliente, defects)
    address = read_address(cliente.endereco, defects)
    name = clean_text(cliente.nome) or clean_text(cliente.fantasia)
    if not (name or document or email or phone or address):
        return None
    return CustomerData(
        name=name or "",
        document=document,
        email=email,
        phone=phone,
        address=address,
        erp_customer_id=cliente.id if cliente.id and cliente.id > 0 else None,
    )


def _shipping(transportador: TransportadorWire | None, defects: Defects) -> ShippingService:
    if transportador is None:
        return ShippingService()
    envio = transportador.forma_envio
    frete = transportador.forma_frete
    return ShippingService(
        service_id=envio.id if envio is not None and envio.id and envio.id > 0 else None,
        service_name=clean_text(envio.nome) if envio else None,
        freight_name=clean_text(frete.nome) if frete else None,
        carrier_name=clean_text(transportador.nome),
        tracking_url=https_url(transportador.url_rastreamento, defects),
    )


MISSING_TOTAL = "O Tiny não informou o valor deste pedido, então o total fica em branco."


def _total(text: str | None, defects: Defects) -> Money | None:
    """The total, or None (with a warning) when Tiny gave none or an unreadable one; the poll
    then asks the order's detail for it."""
    if text is None:
        if not any(w.field == TOTAL_FIELD for w in defects.items):  # unreadable: already said
            defects.add(TOTAL_FIELD, MISSING_TOTAL)
        return None
    try:
        return Money.parse(text)
    except InvalidValue:
        defects.add(TOTAL_FIELD, f"O valor {quoted(text)} enviado pelo Tiny não é um valor válido, então o total fica em branco.")
        return None


def _order(
    erp_order_id: int,
    situacao: Situacao,
    number: str | None,
    total: str | None,
    created_at: date | datetime | None,
    cliente: ClienteWire | None,
    ecommerce: EcommerceWire | None,
    transportador: TransportadorWire | None,
    defects: Defects,
    origem_pedido: int | None = None,
    entrega: EnderecoEntregaWire | None = None,
) -> ErpOrder:
    customer = _customer(cliente, defects)
    shipping = _shipping(transportador, defects)
    code = tracking_code(transportador.codigo_rastreamento, defects) if transportador else None
    amount = _total(total, defects)
    return ErpOrder(
        erp_order_id=erp_order_id,
        situacao=situacao,
        number=clean_text(number, 60),
        ecommerce_number=clean_text(ecommerce.numero_pedido_ecommerce, 120) if ecommerce else None,
        total=amount,
        created_at=created_at,
        customer=customer,
        shipping=shipping,
        tracking_code=code,
        delivery_address=delivery_address(entrega, defects),
        point_of_sale=origem_pedido == 1,
        warnings=defects.tuple(),
    )


# Keys whose values identify a person: masked in the raw payloads kept with import failures.
_PERSONAL_KEYS = frozenset({"cpfcnpj", "cpf", "cnpj", "email", "telefone", "celular", "fone", "whatsapp"})


def _masked_value(key: str, value: object) -> object:
    if is_empty(value):
        return value
    text = str(value)
    if key == "email" and "@" in text:
        return "***@" + text.rpartition("@")[2]
    tail = re.sub(r"\W", "", text)[-2:]
    return "***" + tail


def masked(value: object) -> object:
    """The payload with CPF/CNPJ, e-mail and phone masked (the last two characters, or the
    e-mail's domain, stay to tell records apart); ids, number and names stay, so the merchant
    can recognise the order."""
    if isinstance(value, Mapping):
        return {
            str(k): _masked_value(str(k).lower(), v) if str(k).lower() in _PERSONAL_KEYS and not isinstance(v, Mapping | list)
            else masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    return value


def recognisable(raw: object) -> tuple[str | None, str | None]:
    """The order number and customer name of an item, when they can be read at all."""
    if not isinstance(raw, Mapping):
        return None, None
    number = raw.get("numeroPedido", raw.get("numero"))
    cliente = raw.get("cliente")
    name = cliente.get("nome") or cliente.get("fantasia") if isinstance(cliente, Mapping) else None
    as_text = lambda v: clean_text(str(v), 120) if isinstance(v, str | int) and not isinstance(v, bool) else None  # noqa: E731
    return as_text(number), as_text(name)


def _failure_reason(exc: ClassValidationError | IterableValidationError) -> str:
    """Why an item cannot be an order, in the merchant's words."""
    essential = {p[0] for p in failed_paths(exc) if p} & ESSENTIAL_FIELDS
    if "id" in essential:
        return "o Tiny enviou este pedido sem um identificador utilizável"
    if "situacao" in essential:
        situacoes = [e for e in leaves(exc) if isinstance(e, InvalidValue)]
        return situacoes[0].message if situacoes else "a situação do pedido está ausente ou em formato inesperado"
    return describe(exc)


def _guarded(raw: object, build: Callable[[Defects], T]) -> T | MalformedOrder:
    """`build()`, or the MalformedOrder that explains why it could not be built."""
    erp_id = lenient_id(raw.get("id")) if isinstance(raw, Mapping) else None
    try:
        return build(Defects())
    except (ClassValidationError, IterableValidationError) as exc:
        reason = _failure_reason(exc)
    except BaseValidationError as exc:
        reason = describe(exc)
    except InvalidValue as exc:
        reason = exc.message
    except Exception:
        # Not Tiny's fault: logged loudly for us, still one failed order and never a failed page.
        log.exception("bug while converting a Tiny order", extra={"erp_order_id": erp_id})
        reason = GENERIC_REASON
    number, customer_name = recognisable(raw)
    return MalformedOrder(erp_order_id=erp_id, reason=reason, raw=masked(json_safe(raw)), number=number,
                          customer_name=customer_name)


def order_from_listing(raw: object) -> ErpOrder | MalformedOrder:
    """One item of GET /pedidos."""

    def build(defects: Defects) -> ErpOrder:
        wire = structure_leniently(raw, PedidoListagemWire, defects)
        return _order(wire.id, wire.situacao, wire.numero_pedido, wire.valor, wire.data_criacao,
                      wire.cliente, wire.ecommerce, wire.transportador, defects, wire.origem_pedido)

    return _guarded(raw, build)


def order_from_detail(raw: object) -> tuple[ErpOrder | MalformedOrder, int | None]:
    """GET /pedidos/{idPedido}, and the id of its invoice when it has one."""
    invoice_id = whole_or_none(raw.get("idNotaFiscal")) if isinstance(raw, Mapping) else None

    def build(defects: Defects) -> ErpOrder:
        wire = structure_leniently(raw, PedidoDetalheWire, defects)
        return _order(wire.id, wire.situacao, wire.numero_pedido, wire.valor_total_pedido, wire.data,
                      wire.cliente, wire.ecommerce, wire.transportador, defects, wire.origem_pedido,
                      wire.endereco_entrega)

    return _guarded(raw, build), invoice_id if invoice_id and invoice_id > 0 else None


def json_safe(value: object) -> object:
    """The raw payload for storage (MalformedOrder.raw): JSON types only (a Decimal becomes a
    number json can write; exactness no longer matters once it is only shown)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.is_finite() else float(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


# -- the account's other records ---------------------------------------------------------


def shipping_family(raw: object) -> ShippingFamily | None:
    wire = structure_or_none(raw, FormaEnvioWire, "unreadable forma de envio skipped")
    if wire is None:
        return None
    return ShippingFamily(service_id=wire.id, name=clean_text(wire.nome), family=wire.tipo)


def account_name(raw: object) -> str | None:
    """The account's trade name, else its legal name."""
    wire = structure_or_none(raw, InfoWire, "unreadable account info")
    if wire is None:
        return None
    return clean_text(wire.fantasia) or clean_text(wire.razao_social)
