"""Tiny's camelCase, nullable, sometimes-string JSON into domain types, with cattrs.

Two steps. cattrs structures a payload into *wire* classes that mirror Tiny's schemas field by
field (snake_case of Tiny's own Portuguese names, renamed to camelCase, so each class reads
against the OpenAPI document); lenient hooks absorb the quirks (`""` for null, numbers as
strings, `[]` for an empty object) and the domain's value objects validate what must be valid.
Then small functions build the domain objects. Whatever the payload, an order becomes an
ErpOrder or a MalformedOrder with a Portuguese reason: it never raises.
"""

import logging
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlsplit

import attrs
import cattrs
from cattrs.errors import BaseValidationError, ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, override

from kanglu.domain.access_keys import AccessKey
from kanglu.domain.customers import Address, CustomerData, clean_text, normalise_email, normalise_phone
from kanglu.domain.documents import Document
from kanglu.domain.errors import InvalidValue
from kanglu.domain.money import Money
from kanglu.domain.orders import TOTAL_FIELD, ErpOrder, Invoice, MalformedOrder, OrderWarning, ShippingAddress
from kanglu.domain.shipping import ShippingFamily, ShippingService
from kanglu.domain.situacoes import Situacao, parse_situacao
from kanglu.domain.tracking_codes import TrackingCode

log = logging.getLogger(__name__)

T = TypeVar("T")

# Invoice situações whose access key is real: 2 Emitida, 6 Autorizada, 7 Emitida DANFE.
AUTHORISED_INVOICE_SITUACOES = frozenset({2, 6, 7})
FOREIGN_PERSON_TYPES = frozenset({"E", "X"})  # Estrangeiro, Estrangeiro no Brasil
GENERIC_REASON = "não foi possível ler este pedido do Tiny (erro interno da Kanglu, já registrado)"

TinyDate = date | datetime | None


class WrongShape(ValueError):
    """A value of the wrong JSON type for its field (a list where a text was expected...)."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


class PageShapeError(ValueError):
    """A whole listing answer that is not `{"itens": [...], "paginacao": {...}}`."""


# -- wire classes: Tiny's schemas, as the OpenAPI document names them ---------------------


@attrs.frozen
class EnderecoWire:
    endereco: str | None = None
    numero: str | None = None
    complemento: str | None = None
    bairro: str | None = None
    municipio: str | None = None
    cep: str | None = None
    uf: str | None = None
    pais: str | None = None


@attrs.frozen
class EnderecoEntregaWire(EnderecoWire):
    """enderecoEntrega (EnderecoEntregaModelResponse): where the parcel goes, and to whom."""

    nome_destinatario: str | None = None


@attrs.frozen
class ClienteWire:
    id: int | None = None
    nome: str | None = None
    fantasia: str | None = None
    tipo_pessoa: str | None = None
    cpf_cnpj: str | None = None
    telefone: str | None = None
    celular: str | None = None
    email: str | None = None
    endereco: EnderecoWire | None = None


@attrs.frozen
class EcommerceWire:
    id: int | None = None
    nome: str | None = None
    numero_pedido_ecommerce: str | None = None


@attrs.frozen
class ReferenciaWire:
    """formaEnvio / formaFrete: an id and a name."""

    id: int | None = None
    nome: str | None = None


@attrs.frozen
class TransportadorWire:
    id: int | None = None
    nome: str | None = None
    forma_envio: ReferenciaWire | None = None
    forma_frete: ReferenciaWire | None = None
    codigo_rastreamento: str | None = None  # validated when the order is built: a bad one is a warning
    url_rastreamento: str | None = None


@attrs.frozen
class PedidoListagemWire:
    """An item of GET /pedidos."""

    id: int
    situacao: Situacao
    numero_pedido: str | None = None
    ecommerce: EcommerceWire | None = None
    data_criacao: TinyDate = None
    cliente: ClienteWire | None = None
    valor: str | None = None  # "" when Tiny left it empty (also on approved orders)
    transportador: TransportadorWire | None = None
    origem_pedido: int | None = None  # 0 sale, 1 PDV


@attrs.frozen
class PedidoDetalheWire:
    """GET /pedidos/{idPedido}: the whole order (what Kanglu reads of it)."""

    id: int
    situacao: Situacao
    numero_pedido: str | None = None
    id_nota_fiscal: int | None = None
    data: TinyDate = None
    valor_total_pedido: str | None = None
    cliente: ClienteWire | None = None
    ecommerce: EcommerceWire | None = None
    transportador: TransportadorWire | None = None
    endereco_entrega: EnderecoEntregaWire | None = None
    origem_pedido: int | None = None


@attrs.frozen
class OrigemWire:
    id: int | None = None  # a string in the spec ("123")
    tipo: str | None = None


@attrs.frozen
class NotaWire:
    """An item of GET /notas, or GET /notas/{idNota} (same fields for what Kanglu reads)."""

    id: int
    situacao: int | None = None  # a string enum in the spec ("7")
    tipo: str | None = None
    numero: str | None = None
    serie: str | None = None
    chave_acesso: str | None = None
    data_emissao: TinyDate = None
    codigo_rastreamento: str | None = None
    url_rastreamento: str | None = None
    origem: OrigemWire | None = None
    # Read apart (nota_from_payload): a delivery address Kanglu cannot read must not cost the invoice.
    endereco_entrega: EnderecoEntregaWire | None = None


@attrs.frozen
class FormaEnvioWire:
    id: int
    nome: str | None = None
    tipo: int | None = None  # a string enum in the spec ("1")


@attrs.frozen
class InfoWire:
    razao_social: str | None = None
    fantasia: str | None = None


# -- lenient hooks -----------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object, _: object = None) -> str | None:
    if _is_empty(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise WrongShape("texto")


def _whole(value: object, _: object = None) -> int | None:
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        raise WrongShape("número inteiro")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
        return int(value)
    raise WrongShape("número inteiro")


def _identifier(value: object, _: object = None) -> int:
    number = _whole(value)
    if number is None or number <= 0:
        raise WrongShape("identificador numérico")
    return number


def _situacao(value: object, _: object = None) -> Situacao:
    if _is_empty(value):
        raise InvalidValue("situação ausente")
    if isinstance(value, bool | Decimal) or not isinstance(value, int | str):
        raise InvalidValue(f"situação desconhecida: {_short(value)}")
    return parse_situacao(value.strip() if isinstance(value, str) else value)


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S")


def parse_tiny_date(value: object, _: object = None) -> date | datetime | None:
    """`YYYY-MM-DD` -> date, `YYYY-MM-DD HH:MM:SS` -> naive São Paulo datetime, `""` -> None.

    A text that is no date at all is taken as missing: a date only decorates the order and is
    no reason to refuse it. A date that is not even a text is a malformed payload.
    """
    if _is_empty(value):
        return None
    if not isinstance(value, str):
        raise WrongShape("data em texto")
    text = value.strip()
    if text.startswith("0000-00-00"):
        return None
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    return None


def _optional(inner: Callable[[object], T]) -> Callable[[object, object], T | None]:
    def hook(value: object, _: object = None) -> T | None:
        return None if _is_empty(value) else inner(value)

    return hook


def _optional_class(converter: cattrs.Converter, cls: type) -> Callable[[object, object], object]:
    def hook(value: object, _: object = None) -> object:
        # PHP encodes an empty object as [], and Tiny sends "" for a missing one too.
        if _is_empty(value) or value == []:
            return None
        if not isinstance(value, Mapping):
            raise WrongShape("objeto")
        return converter.structure(value, cls)

    return hook


def _optional_attrs_class(t: object) -> type | None:
    if typing.get_origin(t) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(t) if a is not type(None)]
    return args[0] if len(args) == 1 and len(typing.get_args(t)) == 2 and attrs.has(args[0]) else None


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=True)
    # Later registrations win: the generic attrs rule first, the precise ones after it.
    converter.register_structure_hook_factory(
        attrs.has,
        lambda cls: make_dict_structure_fn(
            cls, converter, **{a.name: override(rename=_camel(a.name)) for a in attrs.fields(cls)}
        ),
    )
    converter.register_structure_hook_factory(
        lambda t: _optional_attrs_class(t) is not None,
        lambda t: _optional_class(converter, _optional_attrs_class(t)),  # type: ignore[arg-type]
    )
    exact: dict[object, Callable[[object, object], object]] = {
        str | None: _text,
        int | None: _whole,
        int: _identifier,
        Situacao: _situacao,
        TinyDate: parse_tiny_date,
    }
    for t, hook in exact.items():
        if isinstance(t, type):
            converter.register_structure_hook(t, hook)  # classes dispatch by type, ahead of predicates
        else:
            converter.register_structure_hook_func(lambda candidate, t=t: candidate == t, hook)
    return converter


_converter = _make_converter()


# -- error messages ----------------------------------------------------------------------


class ConversionBug(Exception):
    """Structuring failed for a reason that is not the payload's fault."""


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _format_pt(exc: BaseException, _type: object) -> str:
    if isinstance(exc, InvalidValue):
        return exc.message
    if isinstance(exc, KeyError):
        return "campo obrigatório ausente"
    if isinstance(exc, WrongShape):
        return f"tipo inesperado (esperado {exc.expected})"
    return "valor em formato inesperado"


def describe(exc: BaseValidationError) -> str:
    """One Portuguese sentence for every problem cattrs found, each with Tiny's field name."""
    messages = []
    for line in cattrs.transform_error(exc, path="", format_exception=_format_pt):
        message, _, path = line.rpartition(" @ ")
        field = ".".join(_camel(part) for part in path.lstrip(".").split("."))
        messages.append(f"{message} (campo {field})" if field else message)
    return "; ".join(dict.fromkeys(messages))


def structure(payload: object, cls: type[T]) -> T:
    """The payload as a wire class. Raises BaseValidationError (or InvalidValue) for bad data,
    ConversionBug for anything else, so a bug is never taken for Tiny's fault."""
    if not isinstance(payload, Mapping):
        raise InvalidValue("o item não é um objeto JSON")
    try:
        return _converter.structure(payload, cls)
    except (ClassValidationError, IterableValidationError) as exc:
        unexpected = [e for e in _leaves(exc) if not isinstance(e, InvalidValue | WrongShape | KeyError)]
        if unexpected:
            raise ConversionBug(f"{cls.__name__}: {unexpected[0]!r}") from unexpected[0]
        raise


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


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def lenient_id(value: object) -> int | None:
    try:
        return _identifier(value)
    except WrongShape:
        return None


# -- to the domain -----------------------------------------------------------------------
#
# A defect in one field never costs the order: the bad value is left out of its validated
# field and becomes a warning the merchant reads (plain pt-BR, no field paths). Only an item
# without a usable id or situação, or that is no JSON object at all, is a MalformedOrder.

# The fields an order cannot do without: the upsert's key, and what decides the action.
ESSENTIAL_FIELDS = frozenset({"id", "situacao"})
# Tiny's (snake_case) paths -> (the API's field, how a merchant calls it), most precise first.
_FIELD_LABELS: dict[tuple[str, ...], tuple[str, str]] = {
    ("cliente", "endereco"): ("customer.address", "o endereço do cliente"),
    ("cliente",): ("customer", "os dados do cliente"),
    ("transportador", "forma_envio"): ("shipping", "a forma de envio"),
    ("transportador", "forma_frete"): ("shipping", "a forma de frete"),
    ("transportador",): ("shipping", "os dados de envio"),
    ("ecommerce",): ("ecommerce_number", "os dados do pedido no e-commerce"),
    ("numero_pedido",): ("number", "o número do pedido"),
    ("data_criacao",): ("created_at", "a data do pedido"),
    ("data",): ("created_at", "a data do pedido"),
    ("valor",): ("total", "o valor do pedido"),
    ("valor_total_pedido",): ("total", "o valor do pedido"),
}
MAX_SHOWN = 60  # characters of a bad value quoted back in a warning


def _quoted(text: str) -> str:
    shown = " ".join(text.split())
    return "“" + (shown if len(shown) <= MAX_SHOWN else shown[: MAX_SHOWN - 1] + "…") + "”"


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


class _Defects:
    """The warnings found while building one order."""

    def __init__(self) -> None:
        self.items: list[OrderWarning] = []

    def add(self, field: str, message: str) -> None:
        self.items.append(OrderWarning(field, message))

    def unreadable(self, path: tuple[str, ...]) -> None:
        for length in range(len(path), 0, -1):
            known = _FIELD_LABELS.get(path[:length])
            if known is not None:
                field, label = known
                break
        else:
            field, label = "order", "um dos dados do pedido"
        self.add(field, f"O Tiny enviou {label} num formato que a Kanglu não consegue ler; esse dado ficou de fora.")

    def tuple(self) -> tuple[OrderWarning, ...]:
        return tuple(dict.fromkeys(self.items))


def _failed_paths(exc: BaseException, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The attribute paths (snake_case) where structuring failed."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        paths = [p for inner, note in with_notes for p in _failed_paths(inner, prefix + (str(note.name),))]
        return paths + [prefix for _ in without]
    return [prefix]


def _without(payload: Mapping[str, object], path: tuple[str, ...]) -> dict[str, object]:
    """A copy of the payload with the value at `path` (attribute names) set to null."""
    copy = dict(payload)
    key = _camel(path[0])
    inner = copy.get(key)
    if len(path) > 1 and isinstance(inner, Mapping):
        copy[key] = _without(inner, path[1:])
    else:
        copy[key] = None
    return copy


def structure_leniently(raw: object, cls: type[T], defects: _Defects) -> T:
    """`structure`, dropping (with a warning) every field whose shape cannot be read, as long as
    the essential ones can: a list where a name was expected costs the name, not the order."""
    if not isinstance(raw, Mapping):
        raise InvalidValue("o item não é um objeto JSON")
    payload: Mapping[str, object] = raw
    for _ in range(50):  # each round drops at least one field: a payload has far fewer
        try:
            return structure(payload, cls)
        except (ClassValidationError, IterableValidationError) as exc:
            paths = [p for p in _failed_paths(exc) if p]
            if not paths or any(p[0] in ESSENTIAL_FIELDS for p in paths):
                raise
            for path in dict.fromkeys(paths):
                payload = _without(payload, path)
                defects.unreadable(path)
    return structure(payload, cls)


def _document(cliente: ClienteWire, defects: _Defects) -> Document | None:
    if cliente.cpf_cnpj is None:
        return None
    try:
        return Document.parse(cliente.cpf_cnpj)
    except InvalidValue as exc:
        if (cliente.tipo_pessoa or "").upper() in FOREIGN_PERSON_TYPES:
            return None  # a foreigner's passport or foreign tax id: not a CPF/CNPJ, not an error
        defects.add(
            "customer.document",
            f"{_sentence(exc.message)} ({_quoted(cliente.cpf_cnpj)}). O pedido foi importado sem o "
            "CPF/CNPJ do cliente; corrija o cadastro no Tiny.",
        )
        return None


def _is_brazilian(endereco: EnderecoWire) -> bool:
    return (endereco.pais or "").strip().lower() in ("", "brasil", "brazil", "br")


def _address(
    endereco: EnderecoWire | None, defects: _Defects,
    field: str = "customer.address", whose: str = "do cliente",
) -> Address | None:
    if endereco is None:
        return None
    zip_digits = re.sub(r"\D", "", endereco.cep or "") or None
    if zip_digits is not None and _is_brazilian(endereco) and len(zip_digits) != 8:
        defects.add(
            f"{field}.zip",
            f"O CEP {whose} {_quoted(endereco.cep or '')} não tem 8 dígitos e ficou de fora do endereço.",
        )
        zip_digits = None
    address = Address(
        street=clean_text(endereco.endereco),
        number=clean_text(endereco.numero, 60),
        complement=clean_text(endereco.complemento),
        district=clean_text(endereco.bairro),
        city=clean_text(endereco.municipio),
        state=clean_text(endereco.uf, 2),
        zip=zip_digits,
        country=clean_text(endereco.pais, 60),
    )
    return None if address.is_empty() else address


def _email(text: str | None, defects: _Defects) -> str | None:
    email = normalise_email(text)
    if text and email is None:
        defects.add("customer.email", f"O e-mail do cliente {_quoted(text)} não tem um formato válido e ficou de fora.")
    return email


def _phone(cliente: ClienteWire, defects: _Defects) -> str | None:
    # The mobile is the number that reaches the buyer; the landline only when there is none.
    found = None
    for text, what in ((cliente.celular, "O celular"), (cliente.telefone, "O telefone")):
        phone = normalise_phone(text)
        if text and phone is None:
            defects.add("customer.phone", f"{what} do cliente {_quoted(text)} não parece um número de telefone e ficou de fora.")
        found = found or phone
    return found


def _customer(cliente: ClienteWire | None, defects: _Defects) -> CustomerData | None:
    if cliente is None:
        return None
    document = _document(cliente, defects)
    email = _email(cliente.email, defects)
    phone = _phone(cliente, defects)
    address = _address(cliente.endereco, defects)
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


def delivery_address(entrega: EnderecoEntregaWire | None, defects: _Defects) -> ShippingAddress | None:
    """enderecoEntrega as a shipping address; None when it has no address at all (Tiny sends
    empty fields when the parcel goes to the customer's own address)."""
    address = _address(entrega, defects, "shipping_address", "do endereço de entrega")
    if entrega is None or address is None:
        return None
    return ShippingAddress(clean_text(entrega.nome_destinatario), address)


def https_url(text: str | None, defects: _Defects, field: str = "tracking_url") -> str | None:
    """Tiny's urlRastreamento when it is an https address; anything else (http, javascript:,
    a bare host) is left out with a warning: the carrier's own https page replaces it."""
    url = clean_text(text, 2000)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is not None and parts.scheme.lower() == "https" and parts.hostname:
        return url
    defects.add(
        field,
        f"O link de rastreamento enviado pelo Tiny {_quoted(url)} não é um endereço https e foi ignorado.",
    )
    return None


def tracking_code(text: str | None, defects: _Defects, field: str = "tracking_code") -> TrackingCode | None:
    """The code, or None with a warning when it fails its shape or check digit: tracking waits
    until Tiny has the corrected code."""
    if text is None:
        return None
    try:
        return TrackingCode.parse(text)
    except InvalidValue as exc:
        defects.add(field, f"{_sentence(exc.message)}. O rastreamento começa quando o código for corrigido no Tiny.")
        return None


def _shipping(transportador: TransportadorWire | None, defects: _Defects) -> ShippingService:
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


def missing_total_warning() -> OrderWarning:
    return OrderWarning(TOTAL_FIELD, MISSING_TOTAL)


def _total(text: str | None, defects: _Defects) -> Money | None:
    """The total, or None (with a warning) when Tiny gave none or an unreadable one; the poll
    then asks the order's detail for it."""
    if text is None:
        if not any(w.field == TOTAL_FIELD for w in defects.items):  # unreadable: already said
            defects.add(TOTAL_FIELD, MISSING_TOTAL)
        return None
    try:
        return Money.parse(text)
    except InvalidValue:
        defects.add(TOTAL_FIELD, f"O valor {_quoted(text)} enviado pelo Tiny não é um valor válido, então o total fica em branco.")
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
    defects: _Defects,
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
    if _is_empty(value):
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
    essential = {p[0] for p in _failed_paths(exc) if p} & ESSENTIAL_FIELDS
    if "id" in essential:
        return "o Tiny enviou este pedido sem um identificador utilizável"
    if "situacao" in essential:
        situacoes = [e for e in _leaves(exc) if isinstance(e, InvalidValue)]
        return situacoes[0].message if situacoes else "a situação do pedido está ausente ou em formato inesperado"
    return describe(exc)


def _guarded(raw: object, build: Callable[[_Defects], T]) -> T | MalformedOrder:
    """`build()`, or the MalformedOrder that explains why it could not be built."""
    erp_id = lenient_id(raw.get("id")) if isinstance(raw, Mapping) else None
    try:
        return build(_Defects())
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

    def build(defects: _Defects) -> ErpOrder:
        wire = structure_leniently(raw, PedidoListagemWire, defects)
        return _order(wire.id, wire.situacao, wire.numero_pedido, wire.valor, wire.data_criacao,
                      wire.cliente, wire.ecommerce, wire.transportador, defects, wire.origem_pedido)

    return _guarded(raw, build)


def order_from_detail(raw: object) -> tuple[ErpOrder | MalformedOrder, int | None]:
    """GET /pedidos/{idPedido}, and the id of its invoice when it has one."""
    invoice_id = _whole_or_none(raw.get("idNotaFiscal")) if isinstance(raw, Mapping) else None

    def build(defects: _Defects) -> ErpOrder:
        wire = structure_leniently(raw, PedidoDetalheWire, defects)
        return _order(wire.id, wire.situacao, wire.numero_pedido, wire.valor_total_pedido, wire.data,
                      wire.cliente, wire.ecommerce, wire.transportador, defects, wire.origem_pedido,
                      wire.endereco_entrega)

    return _guarded(raw, build), invoice_id if invoice_id and invoice_id > 0 else None


def _whole_or_none(value: object) -> int | None:
    try:
        return _whole(value)
    except WrongShape:
        return None


def page_items(body: object) -> tuple[list[object], int | None]:
    """The `itens` of a listing answer and its `paginacao.total` (None when not said)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("itens", []), list):
        raise PageShapeError("listing answer without an `itens` list")
    paging = body.get("paginacao")
    total = _whole_or_none(paging.get("total")) if isinstance(paging, Mapping) else None
    return list(body.get("itens") or []), total


def next_offset(offset: int, received: int, limit: int, total: int | None) -> int | None:
    """Where the next page starts, None after the last one (never loops on an empty page)."""
    if received == 0:
        return None
    after = offset + received
    if total is not None:
        return after if after < total else None
    return after if received >= limit else None


def without_leading_zeros(text: str | None) -> str | None:
    """Invoice number and series: `"021490"` -> `"21490"`, `"01"` -> `"1"`, `"000"` -> `"0"`."""
    if text is None:
        return None
    bare = text.strip()
    if bare.isdigit():
        return bare.lstrip("0") or "0"
    return bare or None


def nota_from_payload(raw: object) -> NotaWire | None:
    """A nota of a listing, or None (logged) when it cannot even be identified. Its delivery
    address is read apart: one Kanglu cannot read is left out (logged), the nota is kept."""
    if not isinstance(raw, Mapping) or "enderecoEntrega" not in raw:
        return _lenient(raw, NotaWire, "unreadable nota fiscal skipped")
    nota = _lenient({k: v for k, v in raw.items() if k != "enderecoEntrega"}, NotaWire, "unreadable nota fiscal skipped")
    entrega = raw["enderecoEntrega"]
    if nota is None or _is_empty(entrega) or entrega == []:
        return nota
    return attrs.evolve(nota, endereco_entrega=_lenient(entrega, EnderecoEntregaWire, "unreadable delivery address"))


def _lenient(raw: object, cls: type[T], message: str) -> T | None:
    """The wire object, or None (logged) for data that cannot be read: used for records that
    only support an order (notas, formas de envio), where one bad record must not stop the rest."""
    raw_id = lenient_id(raw.get("id")) if isinstance(raw, Mapping) else None
    try:
        return structure(raw, cls)
    except (BaseValidationError, InvalidValue) as exc:
        reason = describe(exc) if isinstance(exc, BaseValidationError) else exc.message
        log.warning(message, extra={"record_id": raw_id, "reason": reason})
    except Exception:
        log.exception(message + " (conversion bug)", extra={"record_id": raw_id})
    return None


def is_authorised(nota: NotaWire) -> bool:
    return nota.situacao in AUTHORISED_INVOICE_SITUACOES


def invoice_from_nota(nota: NotaWire) -> Invoice:
    """The domain invoice of an authorised nota. A corrupt access key or tracking code is left
    out, with a warning on the invoice (and so on its order): never a reason to drop either."""
    defects = _Defects()
    number = without_leading_zeros(nota.numero)
    access_key = None
    if nota.chave_acesso:
        try:
            access_key = AccessKey.parse(nota.chave_acesso)
        except InvalidValue as exc:
            defects.add(
                "invoice.access_key",
                f"A chave de acesso da nota fiscal {number or nota.id} {_quoted(nota.chave_acesso)} é inválida "
                f"({exc.message}) e ficou de fora. Confira a nota no Tiny.",
            )
    return Invoice(
        number=number,
        series=without_leading_zeros(nota.serie),
        access_key=access_key,
        erp_invoice_id=nota.id,
        tracking_code=tracking_code(nota.codigo_rastreamento, defects),
        tracking_url=https_url(nota.url_rastreamento, defects),
        delivery_address=delivery_address(nota.endereco_entrega, defects),
        warnings=defects.tuple(),
    )


def order_id_of(nota: NotaWire) -> int | None:
    """The order a nota was issued from, when its origin is a sale."""
    origem = nota.origem
    if origem is None or origem.id is None or origem.id <= 0:
        return None
    if origem.tipo not in (None, "venda"):
        return None
    return origem.id


def shipping_family(raw: object) -> ShippingFamily | None:
    wire = _lenient(raw, FormaEnvioWire, "unreadable forma de envio skipped")
    if wire is None:
        return None
    return ShippingFamily(service_id=wire.id, name=clean_text(wire.nome), family=wire.tipo)


def account_name(raw: object) -> str | None:
    """The account's trade name, else its legal name."""
    wire = _lenient(raw, InfoWire, "unreadable account info")
    if wire is None:
        return None
    return clean_text(wire.fantasia) or clean_text(wire.razao_social)


__all__ = [
    "AUTHORISED_INVOICE_SITUACOES",
    "ConversionBug",
    "PageShapeError",
    "account_name",
    "invoice_from_nota",
    "is_authorised",
    "json_safe",
    "nota_from_payload",
    "order_from_detail",
    "order_from_listing",
    "order_id_of",
    "page_items",
    "parse_tiny_date",
    "shipping_family",
    "without_leading_zeros",
]

