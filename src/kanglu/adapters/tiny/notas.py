"""Tiny's notas fiscais: which order each was issued from, and the Invoice of an authorised one."""

from collections.abc import Mapping

import attrs

from kanglu.adapters.tiny.defects import Defects, delivery_address, https_url, quoted, tracking_code
from kanglu.adapters.tiny.structuring import is_empty, structure_or_none
from kanglu.adapters.tiny.wire import EnderecoEntregaWire, NotaWire
from kanglu.domain.access_keys import AccessKey
from kanglu.domain.errors import InvalidValue
from kanglu.domain.orders import Invoice

# Invoice situações whose access key is real: 2 Emitida, 6 Autorizada, 7 Emitida DANFE.
AUTHORISED_INVOICE_SITUACOES = frozenset({2, 6, 7})


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
    unreadable = "unreadable nota fiscal skipped"
    if not isinstance(raw, Mapping) or "enderecoEntrega" not in raw:
        return structure_or_none(raw, NotaWire, unreadable)
    nota = structure_or_none({k: v for k, v in raw.items() if k != "enderecoEntrega"}, NotaWire, unreadable)
    entrega = raw["enderecoEntrega"]
    if nota is None or is_empty(entrega) or entrega == []:
        return nota
    address = structure_or_none(entrega, EnderecoEntregaWire, "unreadable delivery address")
    return attrs.evolve(nota, endereco_entrega=address)


def is_authorised(nota: NotaWire) -> bool:
    return nota.situacao in AUTHORISED_INVOICE_SITUACOES


def invoice_from_nota(nota: NotaWire) -> Invoice:
    """The domain invoice of an authorised nota. A corrupt access key or tracking code is left
    out, with a warning on the invoice (and so on its order): never a reason to drop either."""
    defects = Defects()
    number = without_leading_zeros(nota.numero)
    access_key = None
    if nota.chave_acesso:
        try:
            access_key = AccessKey.parse(nota.chave_acesso)
        except InvalidValue as exc:
            defects.add(
                "invoice.access_key",
                f"A chave de acesso da nota fiscal {number or nota.id} {quoted(nota.chave_acesso)} é inválida "
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
