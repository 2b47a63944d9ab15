"""Tiny's schemas as attrs classes (the wire types), field by field as the OpenAPI document names them.

Attribute names are the snake_case of Tiny's own Portuguese names; structuring.py renames them to
camelCase, so each class reads against the document. Only what Kanglu reads is declared.
"""

from datetime import date, datetime

import attrs

from kanglu.domain.situacoes import Situacao

TinyDate = date | datetime | None


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
