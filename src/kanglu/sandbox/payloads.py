"""Tiny API v3 JSON bodies rendered from the sandbox's records, with the spec's field names and
the nulls, empty strings and strings-for-numbers of real answers."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from kanglu.sandbox import brazil
from kanglu.sandbox import identifiers as ids
from kanglu.sandbox.catalog import FormaEnvio
from kanglu.sandbox.clock import SAO_PAULO
from kanglu.sandbox.dataset import Dataset
from kanglu.sandbox.model import Address, Company, Customer, Invoice, Malformed, Order, Quirk

Json = dict[str, Any]

_INTERMEDIADOR_CNPJS = tuple(ids.cnpj(random.Random(f"intermediador:{i}")) for i in range(len(brazil.ECOMMERCES)))


def datetime_text(epoch: float) -> str:
    """São Paulo local time, no offset: "2026-11-29 11:55:13" (isoformat is the fast path)."""
    return datetime.fromtimestamp(int(epoch), SAO_PAULO).isoformat(" ")[:19]


def date_text(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), SAO_PAULO).isoformat()[:10]


def valor_text(cents: int | None) -> str:
    """The listing's valor: "598", "1234.50", or "" for an order without items."""
    if cents is None:
        return ""
    if cents % 100 == 0:
        return str(cents // 100)
    return f"{cents // 100}.{cents % 100:02d}"


def _money(cents: int | None) -> float:
    return 0.0 if cents is None else round(cents / 100, 2)


def address(a: Address) -> Json:
    return {
        "endereco": a.endereco, "numero": a.numero, "complemento": a.complemento, "bairro": a.bairro,
        "municipio": a.municipio, "cep": a.cep, "uf": a.uf, "pais": a.pais,
    }


def document_text(customer: Customer, order: Order) -> str:
    value = customer.document
    if not value:
        return ""
    if order.malformed is Malformed.CPF:
        value = ids.corrupt_document(value)
    if not customer.formatted:
        return value
    return ids.format_cpf(value) if len(value) == 11 else ids.format_cnpj(value)


def cliente(dataset: Dataset, order: Order) -> Json:
    c = dataset.customer(order)
    return {
        "nome": c.nome, "codigo": c.codigo, "fantasia": c.fantasia, "tipoPessoa": c.tipo_pessoa,
        "cpfCnpj": document_text(c, order), "inscricaoEstadual": c.inscricao_estadual, "rg": c.rg,
        "telefone": c.telefone, "celular": c.celular, "email": c.email,
        "endereco": None if order.quirks & Quirk.ENDERECO_NULL else address(c.endereco),
        "id": c.id,
    }


def _put_cliente(body: Json, dataset: Dataset, order: Order) -> None:
    if order.quirks & Quirk.CLIENTE_ABSENT:
        return
    body["cliente"] = None if order.quirks & Quirk.CLIENTE_NULL else cliente(dataset, order)


def ecommerce(order: Order) -> Json | None:
    if order.ecommerce is None:
        return None
    nome, canal, _ = brazil.ECOMMERCES[order.ecommerce]
    return {
        "id": 10_000 + order.ecommerce,
        "nome": nome,
        "numeroPedidoEcommerce": order.ecommerce_number,
        "numeroPedidoCanalVenda": order.ecommerce_number if nome in ("Mercado Livre", "Shopee") else "",
        "canalVenda": canal,
    }


def _put_ecommerce(body: Json, order: Order) -> None:
    if order.ecommerce is None and order.quirks & Quirk.ECOMMERCE_ABSENT:
        return
    body["ecommerce"] = ecommerce(order)


def carrier_name(forma: FormaEnvio | None, order: Order) -> str | None:
    if forma is None:
        return ""
    return forma.carrier_names[order.seed % len(forma.carrier_names)]


def tracking_url(forma: FormaEnvio | None, code: str | None) -> str:
    if not code or forma is None or not forma.url_template:
        return ""
    return forma.url_template.format(code=code)


def _code(order: Order, code: str | None) -> str | None:
    if code:
        return code
    return None if order.quirks & Quirk.TRACKING_NULL else ""


def transportador(order: Order) -> Json:
    forma, frete = order.forma, order.frete
    nome = carrier_name(forma, order)
    return {
        "id": (forma.id * 31 + 7) % 1_000_000_000 if forma is not None and nome else None,
        "nome": nome,
        "fretePorConta": "R" if order.freight_cents == 0 else "D",
        "formaEnvio": None if forma is None else {"id": forma.id, "nome": forma.nome},
        "formaFrete": None if frete is None else {"id": frete.id, "nome": frete.nome},
        "codigoRastreamento": _code(order, order.tracking_code),
        "urlRastreamento": tracking_url(forma, order.tracking_code),
    }


def _put_transportador(body: Json, order: Order) -> None:
    if order.quirks & Quirk.TRANSPORTADOR_ABSENT:
        return
    body["transportador"] = None if order.quirks & Quirk.TRANSPORTADOR_NULL else transportador(order)


def vendedor(order: Order) -> Json | None:
    if order.quirks & Quirk.VENDEDOR_NULL:
        return None
    names = ("Loja virtual", "Equipe de vendas", "Marketplace")
    return {"id": 400_000_000 + order.seed % 3, "nome": names[order.seed % 3]}


def _data_prevista(order: Order) -> str:
    if order.quirks & Quirk.DATA_PREVISTA_EMPTY:
        return ""
    return date_text(order.created + (3 + order.seed % 12) * 86_400)


def pedido_listing(dataset: Dataset, order: Order) -> Json:
    """One item of GET /pedidos."""
    body: Json = {"id": order.id, "situacao": order.situacao, "numeroPedido": order.numero}
    _put_ecommerce(body, order)
    body["dataCriacao"] = datetime_text(order.created) if dataset.creation_with_time else date_text(order.created)
    body["dataPrevista"] = _data_prevista(order)
    _put_cliente(body, dataset, order)
    body["valor"] = "" if order.quirks & Quirk.VALOR_EMPTY else valor_text(order.cents)
    body["vendedor"] = vendedor(order)
    _put_transportador(body, order)
    body["origemPedido"] = order.origem
    return body


def entrega(dataset: Dataset, order: Order) -> Json | None:
    """enderecoEntrega, of the order's detail and of its notas: where the parcel goes."""
    delivery = dataset.delivery(order)
    if delivery is None or order.quirks & (Quirk.CLIENTE_NULL | Quirk.CLIENTE_ABSENT | Quirk.ENDERECO_NULL):
        return None
    c = dataset.customer(order)
    if delivery.kind == "blank":
        return {**{k: "" for k in address(c.endereco)}, "nomeDestinatario": "", "cpfCnpj": "", "tipoPessoa": "",
                "telefone": "", "inscricaoEstadual": ""}
    if delivery.kind == "gift":
        assert delivery.endereco is not None
        return {**address(delivery.endereco), "nomeDestinatario": delivery.nome, "cpfCnpj": "", "tipoPessoa": "F",
                "telefone": "", "inscricaoEstadual": ""}
    return {
        **address(delivery.endereco or c.endereco), "nomeDestinatario": c.nome, "cpfCnpj": document_text(c, order),
        "tipoPessoa": c.tipo_pessoa, "telefone": c.celular or c.telefone, "inscricaoEstadual": c.inscricao_estadual,
    }


def _intermediador(order: Order) -> Json | None:
    if order.ecommerce is None or order.ecommerce >= 4:  # own shops have no intermediary
        return None
    return {
        "id": 20_000 + order.ecommerce, "nome": brazil.ECOMMERCES[order.ecommerce][0],
        "cnpj": ids.format_cnpj(_INTERMEDIADOR_CNPJS[order.ecommerce]), "cnpjPagamentoInstituicao": None,
    }


def pedido_detail(dataset: Dataset, order: Order) -> Json:
    """GET /pedidos/{idPedido}."""
    items = dataset.items(order)
    products = sum(i.cents * i.quantidade for i in items)
    invoice = order.invoice
    shipped = order.situacao in (5, 6, 9)
    body: Json = {
        "id": order.id,
        "numeroPedido": order.numero,
        "idNotaFiscal": invoice.id if invoice is not None else None,
        "dataFaturamento": date_text(invoice.emitted) if invoice is not None and invoice.chave else "",
        "valorTotalProdutos": _money(products),
        "valorTotalPedido": _money(order.cents),
        "listaPreco": {"id": 0, "nome": "Padrão", "acrescimoDesconto": 0.0},
    }
    _put_cliente(body, dataset, order)
    body["enderecoEntrega"] = entrega(dataset, order)
    _put_ecommerce(body, order)
    _put_transportador(body, order)
    body.update({
        "deposito": {"id": 700_001, "nome": "Geral"},
        "vendedor": vendedor(order),
        "naturezaOperacao": {"id": 335_001, "nome": "Venda de mercadorias"},
        "intermediador": _intermediador(order),
        "pagamento": {
            "formaRecebimento": {"id": 1, "nome": "Cartão de crédito" if order.seed % 3 else "Pix"},
            "meioPagamento": {"id": 3, "nome": "Cartão de Crédito"} if order.seed % 3
            else {"id": 17, "nome": "Pagamento Instantâneo (PIX)"},
            "condicaoPagamento": "",
            "parcelas": [] if order.cents is None else [{
                "dias": 30, "data": date_text(order.created + 30 * 86_400), "valor": _money(order.cents),
                "observacoes": "", "formaRecebimento": {"id": 1, "nome": None},
                "meioPagamento": {"id": 3, "nome": None},
            }],
        },
        "itens": [
            {
                "produto": {"id": i.product_id, "sku": i.sku, "descricao": i.descricao, "tipo": "P"},
                "quantidade": float(i.quantidade), "valorUnitario": _money(i.cents), "infoAdicional": "",
            }
            for i in items
        ],
        "pagamentosIntegrados": [],
        "situacao": order.situacao,
        "data": date_text(order.created),
        "dataEntrega": date_text(order.updated) if order.situacao == 6 else "",
        "numeroOrdemCompra": "",
        "valorDesconto": 0.0,
        "valorFrete": _money(order.freight_cents),
        "valorOutrasDespesas": 0.0,
        "dataPrevista": _data_prevista(order),
        "dataEnvio": datetime_text(max(order.created, order.updated - 86_400)) if shipped else "",
        "observacoes": "",
        "observacoesInternas": "",
        "origemPedido": order.origem,
    })
    return body


def _nota_base(dataset: Dataset, invoice: Invoice) -> Json:
    order = dataset.orders_by_id[invoice.order_id]
    forma = order.forma
    emitted = invoice.chave is not None
    # Most invoices show numero, serie and situacao as strings ("021490", "01", "7"); some as numbers.
    as_numbers = invoice.id % 10 == 3
    serie = dataset.serie_for(invoice)
    body: Json = {
        "id": invoice.id,
        "situacao": invoice.situacao if as_numbers else str(invoice.situacao),
        "tipo": "S",
        "numero": invoice.numero if as_numbers else f"{invoice.numero:06d}",
        "serie": int(serie) if as_numbers else serie,
        "chaveAcesso": invoice.chave or "",
        "dataEmissao": date_text(invoice.emitted) if emitted else "",
    }
    _put_cliente(body, dataset, order)
    body.update({
        "enderecoEntrega": entrega(dataset, order),
        "valor": _money(order.cents),
        "valorProdutos": _money((order.cents or 0) - order.freight_cents),
        "valorFrete": _money(order.freight_cents),
        "vendedor": vendedor(order),
        "idFormaEnvio": forma.id if forma is not None else None,
        "idFormaFrete": order.frete.id if order.frete is not None else None,
        "codigoRastreamento": _code(order, invoice.tracking_code),
        "urlRastreamento": tracking_url(forma, invoice.tracking_code),
        "fretePorConta": "R" if order.freight_cents == 0 else "D",
        "qtdVolumes": 1,
        "pesoBruto": round(0.3 + (order.seed % 40) / 10, 3),
        "pesoLiquido": round(0.25 + (order.seed % 40) / 10, 3),
    })
    return body


def nota_listing(dataset: Dataset, invoice: Invoice) -> Json:
    """One item of GET /notas."""
    order = dataset.orders_by_id[invoice.order_id]
    body = _nota_base(dataset, invoice)
    body["ecommerce"] = ecommerce(order)
    body["origem"] = {"id": str(order.id), "tipo": "venda"}
    return body


def nota_detail(dataset: Dataset, invoice: Invoice) -> Json:
    """GET /notas/{idNota}."""
    order = dataset.orders_by_id[invoice.order_id]
    body = _nota_base(dataset, invoice)
    total = _money(order.cents)
    forma = order.forma
    nome = carrier_name(forma, order)
    intermediador = _intermediador(order)
    body.update({
        "finalidade": "1",
        "regimeTributario": dataset.company.regime_tributario,
        "dataInclusao": datetime_text(invoice.emitted),
        "baseIcms": 0.0, "valorIcms": 0.0, "baseIcmsSt": 0.0, "valorIcmsSt": 0.0, "valorServicos": 0.0,
        "valorSeguro": 0.0, "valorOutras": 0.0, "valorIpi": 0.0, "valorIssqn": 0.0, "valorDesconto": 0.0,
        "valorFaturado": total,
        "idIntermediador": intermediador["id"] if intermediador else None,
        "idNaturezaOperacao": 335_001,
        "idFormaPagamento": 1,
        "idMeioPagamento": None,
        "observacoes": "",
        "condicaoPagamento": "",
        "valorNotaComImpostos": total,
        "valorBaseDiferimento": None,
        "percentualICMSPartilhaDestino": None,
        "valorTotalICMSFCPDestino": None,
        "valorIPIDevolvido": None,
        "tipoNotaCredito": None,
        "tipoNotaDebito": None,
        "valorTotalBCIBSCBS": None,
        "valorTotalIBSUF": None,
        "valorTotalCBS": None,
        "itens": [
            {
                "idItem": invoice.id * 10 + n, "idProduto": i.product_id, "codigo": i.sku, "ncm": "6109.10.00",
                "descricao": i.descricao, "unidade": "UN", "quantidade": float(i.quantidade),
                "valorUnitario": _money(i.cents), "valorTotal": _money(i.cents * i.quantidade),
                "cfop": "5102" if dataset.customer(order).endereco.uf == dataset.company.endereco.uf else "6108",
                "naturezaOperacao": "Venda de mercadorias",
            }
            for n, i in enumerate(dataset.items(order), start=1)
        ],
        "parcelas": [],
        "pagamentosIntegrados": [],
        "ecommerce": ecommerce(order),
        "marcadores": [],
        "transportador": None if not nome else {
            "nome": nome, "cpfCnpj": "", "ie": "", "endereco": "", "municipio": "", "uf": "",
        },
        "origem": {"id": str(order.id), "tipo": "venda"},
    })
    return body


def forma_envio_listing(forma: FormaEnvio) -> Json:
    return {"id": forma.id, "nome": forma.nome, "tipo": forma.tipo, "situacao": forma.situacao,
            "gatewayLogistico": None if forma.gateway is None else {"id": forma.gateway[0], "nome": forma.gateway[1]}}


def forma_envio_detail(forma: FormaEnvio) -> Json:
    body = forma_envio_listing(forma)
    body["formasFrete"] = [
        {"id": f.id, "nome": f.nome, "codigo": f.codigo, "codigoExterno": f.codigo_externo,
         "tipoEntrega": f.tipo_entrega}
        for f in forma.formas_frete
    ]
    return body


def info(company: Company) -> Json:
    return {
        "razaoSocial": company.razao_social,
        "cpfCnpj": ids.format_cnpj(company.cnpj),
        "fantasia": company.fantasia,
        "enderecoEmpresa": address(company.endereco),
        "fone": company.fone,
        "email": company.email,
        "inscricaoEstadual": company.inscricao_estadual,
        "regimeTributario": company.regime_tributario,
    }
