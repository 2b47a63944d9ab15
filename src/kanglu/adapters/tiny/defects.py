"""What Kanglu cannot read in one of Tiny's records becomes a warning (a defect), never a lost record.

A defect in one field never costs the order: the bad value is left out of its validated field
and becomes a warning the merchant reads (plain pt-BR, no field paths). Only an item without a
usable id or situação, or that is no JSON object at all, is a MalformedOrder (conversion.py).
The readers of the fields that orders and invoices share (addresses, tracking) are here too.
"""

import re
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from cattrs.errors import ClassValidationError, IterableValidationError

from kanglu.adapters.tiny.structuring import camel, structure
from kanglu.adapters.tiny.wire import EnderecoEntregaWire, EnderecoWire
from kanglu.domain.customers import Address, clean_text
from kanglu.domain.errors import InvalidValue
from kanglu.domain.orders import OrderWarning, ShippingAddress
from kanglu.domain.tracking_codes import TrackingCode

T = TypeVar("T")

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


def quoted(text: str) -> str:
    shown = " ".join(text.split())
    return "“" + (shown if len(shown) <= MAX_SHOWN else shown[: MAX_SHOWN - 1] + "…") + "”"


def sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


class Defects:
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


def failed_paths(exc: BaseException, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The attribute paths (snake_case) where structuring failed."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        paths = [p for inner, note in with_notes for p in failed_paths(inner, prefix + (str(note.name),))]
        return paths + [prefix for _ in without]
    return [prefix]


def _without(payload: Mapping[str, object], path: tuple[str, ...]) -> dict[str, object]:
    """A copy of the payload with the value at `path` (attribute names) set to null."""
    copy = dict(payload)
    key = camel(path[0])
    inner = copy.get(key)
    if len(path) > 1 and isinstance(inner, Mapping):
        copy[key] = _without(inner, path[1:])
    else:
        copy[key] = None
    return copy


def structure_leniently(raw: object, cls: type[T], defects: Defects) -> T:
    """`structure`, dropping (with a warning) every field whose shape cannot be read, as long as
    the essential ones can: a list where a name was expected costs the name, not the order."""
    if not isinstance(raw, Mapping):
        raise InvalidValue("o item não é um objeto JSON")
    payload: Mapping[str, object] = raw
    for _ in range(50):  # each round drops at least one field: a payload has far fewer
        try:
            return structure(payload, cls)
        except (ClassValidationError, IterableValidationError) as exc:
            paths = [p for p in failed_paths(exc) if p]
            if not paths or any(p[0] in ESSENTIAL_FIELDS for p in paths):
                raise
            for path in dict.fromkeys(paths):
                payload = _without(payload, path)
                defects.unreadable(path)
    return structure(payload, cls)


def _is_brazilian(endereco: EnderecoWire) -> bool:
    return (endereco.pais or "").strip().lower() in ("", "brasil", "brazil", "br")


def read_address(
    endereco: EnderecoWire | None, defects: Defects,
    field: str = "customer.address", whose: str = "do cliente",
) -> Address | None:
    if endereco is None:
        return None
    zip_digits = re.sub(r"\D", "", endereco.cep or "") or None
    if zip_digits is not None and _is_brazilian(endereco) and len(zip_digits) != 8:
        defects.add(
            f"{field}.zip",
            f"O CEP {whose} {quoted(endereco.cep or '')} não tem 8 dígitos e ficou de fora do endereço.",
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


def delivery_address(entrega: EnderecoEntregaWire | None, defects: Defects) -> ShippingAddress | None:
    """enderecoEntrega as a shipping address; None when it has no address at all (Tiny sends
    empty fields when the parcel goes to the customer's own address)."""
    address = read_address(entrega, defects, "shipping_address", "do endereço de entrega")
    if entrega is None or address is None:
        return None
    return ShippingAddress(clean_text(entrega.nome_destinatario), address)


def https_url(text: str | None, defects: Defects, field: str = "tracking_url") -> str | None:
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
        f"O link de rastreamento enviado pelo Tiny {quoted(url)} não é um endereço https e foi ignorado.",
    )
    return None


def tracking_code(text: str | None, defects: Defects, field: str = "tracking_code") -> TrackingCode | None:
    """The code, or None with a warning when it fails its shape or check digit: tracking waits
    until Tiny has the corrected code."""
    if text is None:
        return None
    try:
        return TrackingCode.parse(text)
    except InvalidValue as exc:
        defects.add(field, f"{sentence(exc.message)}. O rastreamento começa quando o código for corrigido no Tiny.")
        return None
