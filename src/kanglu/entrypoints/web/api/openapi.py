"""The OpenAPI 3.1 document of /api/v1, as data. Tests check it covers every route and that the
answers match it (schemathesis), so it cannot drift from the code silently."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kanglu import __version__
from kanglu.application.queries import MAX_PER_PAGE
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.situacoes import Action, Situacao
from kanglu.domain.tracking import ShipmentStatus
from kanglu.entrypoints.web.api.bodies import (
    CLIENT_ID_MAX,
    CLIENT_SECRET_MAX,
    INVITE_LINK_MAX,
    TOKEN,
    anchored,
    invite_link_branches,
)
from kanglu.entrypoints.web.params import MAX_ID, MAX_PAGE, MAX_QUERY_LENGTH


def auth_host_of(auth_url: str) -> str | None:
    return urlsplit(auth_url).hostname


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _text(description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["string", "null"]}
    if description:
        schema["description"] = description
    return schema


def _object(properties: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


SITUACOES = ", ".join(f"{int(s)} {s.label}" for s in sorted(Situacao, key=int))


def _schemas(auth_host: str | None) -> dict[str, Any]:
    date_or_datetime = {
        "anyOf": [
            {"type": "string", "format": "date"},
            {"type": "string", "format": "date-time"},
            {"type": "null"},
        ],
        "description": "Data (AAAA-MM-DD) ou data e hora com fuso (RFC 3339) da criação do pedido no Tiny.",
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "Código do erro: unauthorized, not_found, conflict…"},
                "message": {"type": "string", "description": "Explicação em português."},
            },
        },
        "ValidationError": {
            "type": "object",
            "required": ["error", "message", "errors"],
            "properties": {
                "error": {"type": "string", "const": "invalid_input"},
                "message": {"type": "string"},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Uma mensagem em português por campo recusado: `client_id`, "
                    "`mappings[0].action`, `page`… (`body` quando o corpo inteiro é inválido).",
                },
            },
        },
        "Address": _object(
            {
                "street": _text(),
                "number": _text(),
                "complement": _text(),
                "district": _text(),
                "city": _text(),
                "state": _text("UF"),
                "zip": _text("CEP, só dígitos"),
                "country": _text(),
            }
        ),
        "Customer": _object(
            {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "document": _text("CPF ou CNPJ sem pontuação (letras e dígitos no CNPJ alfanumérico)"),
                "phone": _text("Só dígitos (com + quando internacional)"),
                "email": _text(),
                "address": _ref("Address"),
            }
        ),
        "Invoice": _object(
            {
                "number": _text(),
                "series": _text(),
                "access_key": _text("Chave de acesso da NF-e, 44 caracteres"),
            },
            "A nota fiscal do pedido.",
        ),
        "Carrier": _object(
            {
                "code": {"type": "string", "description": "correios, jadlog, loggi, total_express…"},
                "name": {"type": "string"},
            }
        ),
        "Order": _object(
            {
                "id": {"type": "integer"},
                "erp_order_id": {"type": "integer", "description": "O id do pedido no Tiny."},
                "number": _text("Número do pedido no Tiny."),
                "ecommerce_number": _text("Número do pedido no e-commerce."),
                "situacao": {
                    "type": "integer",
                    "enum": sorted(int(s) for s in Situacao),
                    "description": f"Código da situação no Tiny: {SITUACOES}.",
                },
                "total": {
                    "type": "string",
                    "pattern": r"^-?[0-9]+\.[0-9]{2}$",
                    "description": "Valor total em reais, exato, com duas casas: \"1234.50\".",
                },
                "created_at": date_or_datetime,
                "customer": _nullable(_ref("Customer")),
                "invoice": _nullable(_ref("Invoice")),
                "carrier": _nullable(_ref("Carrier")),
                "tracking_code": _text(),
                "tracking_url": _text(),
                "tracking_status": {"type": "string", "enum": [s.value for s in ShipmentStatus]},
                "import_error": _text("Por que a última versão do pedido no Tiny não pôde ser importada."),
            }
        ),
        "OrderPage": _page("Order"),
        "CustomerPage": _page("Customer"),
        "Integration": _object(
            {
                "status": {"type": "string", "enum": [s.value for s in ConnectionStatus]},
                "client_id": _text(),
                "invite_link": _text(),
                "redirect_url": {
                    "type": "string",
                    "description": "A URL de Redirecionamento a cadastrar no aplicativo do Tiny.",
                },
                "account_name": _text("A conta do Tiny conectada."),
                "connected_at": _nullable({"type": "string", "format": "date-time"}),
                "last_sync_at": _nullable({"type": "string", "format": "date-time"}),
                "last_error": _text("O último problema, em português."),
            },
            "A integração com o Tiny. O Client Secret nunca é devolvido.",
        ),
        "IntegrationInput": {
            "type": "object",
            "required": ["client_id", "invite_link"],
            "properties": {
                "client_id": {"type": "string", "maxLength": CLIENT_ID_MAX, "pattern": anchored(TOKEN)},
                "client_secret": {
                    "type": ["string", "null"],
                    "maxLength": CLIENT_SECRET_MAX,
                    "pattern": anchored(TOKEN),
                    "writeOnly": True,
                    "description": "Ausente ou null mantém o já salvo.",
                },
                "invite_link": {
                    "type": "string",
                    "maxLength": INVITE_LINK_MAX,
                    "pattern": anchored(*invite_link_branches(auth_host)),
                    "description": "Endereço https do Tiny (tiny.com.br ou olist.com), como o painel mostra.",
                },
            },
        },
        "AuthorizeUrl": _object(
            {"authorize_url": {"type": "string", "description": "Abra no navegador do lojista para autorizar."}}
        ),
        "StatusMapping": _object(
            {
                "situacao": {"type": "integer", "enum": sorted(int(s) for s in Situacao)},
                "action": {"type": "string", "enum": [a.value for a in Action]},
            }
        ),
        "StatusMappings": _object({"mappings": {"type": "array", "items": _ref("StatusMapping")}}),
        "StatusMappingsInput": {
            "type": "object",
            "required": ["mappings"],
            "properties": {
                "mappings": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["situacao", "action"],
                        "properties": {
                            "situacao": {"type": "integer", "enum": sorted(int(s) for s in Situacao)},
                            "action": {"type": "string", "enum": [a.value for a in Action]},
                        },
                    },
                    "description": "As situações listadas mudam; as outras ficam como estão. "
                    "Uma situação repetida vale pela última.",
                }
            },
        },
    }


def _page(item: str) -> dict[str, Any]:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            "total": {
                "type": "integer",
                "minimum": 0,
                "description": "Contado até 10.000 (até 1.000 numa busca): nesse teto, há pelo menos isso.",
            },
        }
    )


PARAMETERS: dict[str, Any] = {
    "q": {
        "name": "q",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": MAX_QUERY_LENGTH},
    },
    "page": {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    },
    "per_page": {
        "name": "per_page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 20},
    },
    "situacao": {
        "name": "situacao",
        "in": "query",
        "required": False,
        "description": f"Código da situação no Tiny: {SITUACOES}.",
        "schema": {"type": "integer", "enum": sorted(int(s) for s in Situacao)},
    },
}


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}
INVALID = {"$ref": "#/components/responses/Invalid"}
NOT_FOUND = {"$ref": "#/components/responses/NotFound"}
CONFLICT = {"$ref": "#/components/responses/Conflict"}


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, "responses": {**responses, "401": UNAUTHORIZED}, **extra}


def document(auth_host: str | None = None) -> dict[str, Any]:
    integration = _json(_ref("Integration"), "A integração com o Tiny.")
    mappings = _json(_ref("StatusMappings"), "A ação de cada situação do Tiny.")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kanglu: integração com ERPs",
            "version": __version__,
            "description": "Pedidos importados do Tiny ERP, seus clientes, e a própria integração. "
            "Autentique com a chave da API (`Authorization: Bearer <chave>`), criada por "
            "`kanglu merchant create`. Objetos de outro lojista respondem 404. Entradas inválidas "
            "respondem 422 com uma mensagem por campo em `errors`.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/integrations/tiny": {
                "get": _operation("getTinyIntegration", "A integração com o Tiny", {"200": integration}),
                "put": _operation(
                    "saveTinyIntegration",
                    "Salvar Client ID, Client Secret e Link de Convite",
                    {"200": integration, "422": INVALID},
                    requestBody={"required": True, "content": {"application/json": {"schema": _ref("IntegrationInput")}}},
                ),
                "delete": _operation(
                    "disconnectTinyIntegration",
                    "Desconectar (os pedidos importados continuam)",
                    {"200": integration},
                ),
            },
            "/integrations/tiny/authorize": {
                "post": _operation(
                    "authorizeTinyIntegration",
                    "A URL de autorização do Tiny (state assinado, uso único, 10 minutos)",
                    {"200": _json(_ref("AuthorizeUrl"), "Para onde mandar o lojista."), "409": CONFLICT},
                )
            },
            "/integrations/tiny/status-mappings": {
                "get": _operation("getStatusMappings", "Ação de cada situação do Tiny", {"200": mappings}),
                "put": _operation(
                    "updateStatusMappings",
                    "Mudar a ação de situações do Tiny",
                    {"200": mappings, "409": CONFLICT, "422": INVALID},
                    requestBody={
                        "required": True,
                        "content": {"application/json": {"schema": _ref("StatusMappingsInput")}},
                    },
                ),
            },
            "/orders": {
                "get": _operation(
                    "listOrders",
                    "Pedidos, do mais novo ao mais antigo",
                    {"200": _json(_ref("OrderPage"), "Uma página de pedidos."), "422": INVALID},
                    parameters=[_param("situacao"), _param("q"), _param("page"), _param("per_page")],
                    description="`q` procura pelo número do pedido, número do e-commerce, nome ou "
                    "CPF/CNPJ do cliente e código de rastreamento.",
                )
            },
            "/orders/{id}": {
                "get": _operation(
                    "getOrder",
                    "Um pedido",
                    {"200": _json(_ref("Order"), "O pedido."), "404": NOT_FOUND},
                    parameters=[
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID},
                        }
                    ],
                )
            },
            "/customers": {
                "get": _operation(
                    "listCustomers",
                    "Clientes, por nome",
                    {"200": _json(_ref("CustomerPage"), "Uma página de clientes."), "422": INVALID},
                    parameters=[_param("q"), _param("page"), _param("per_page")],
                    description="`q` procura pelo nome, CPF/CNPJ ou e-mail.",
                )
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A chave da API do lojista."}
            },
            "parameters": PARAMETERS,
            "responses": {
                "Unauthorized": _json(_ref("Error"), "Chave da API ausente ou inválida."),
                "NotFound": _json(_ref("Error"), "Não existe, ou é de outro lojista."),
                "Conflict": _json(_ref("Error"), "A integração ainda não foi configurada."),
                "Invalid": _json(_ref("ValidationError"), "Entrada inválida."),
            },
            "schemas": _schemas(auth_host),
        },
    }
