"""The OpenAPI 3.1 document of /api/v1, as data. Tests check it covers every route and that the
answers match it (schemathesis), so it cannot drift from the code silently."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kanglu import __version__
from kanglu.application.queries import MAX_PER_PAGE, UNKNOWN_CARRIER
from kanglu.application.use_cases.retry_import_failure import RetryOutcome
from kanglu.domain.carriers import DEFAULT_REGISTRY, NOT_TRACKED
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.erp_credentials import ErpCredentials
from kanglu.domain.events import EventKind
from kanglu.domain.permissions import ErpPermission
from kanglu.domain.situacoes import Action, Situacao
from kanglu.domain.tracking import ShipmentStatus
from kanglu.entrypoints.web.api.bodies import (
    MAX_ERRORS,
    MAX_ITEMS,
    SHIPPING_SERVICE_MAX,
    WEBHOOK_URL_MAX,
    WEBHOOK_URL_PATTERN,
    anchored,
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
    carrier_codes = [c.code for c in DEFAULT_REGISTRY] + [NOT_TRACKED.code]
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
                    "`mappings[0].action`, `page`… (`body` quando o corpo inteiro é inválido). No máximo "
                    f"{MAX_ERRORS} erros por resposta.",
                    "maxProperties": MAX_ERRORS,
                },
            },
        },
        "UnknownParameterError": {
            "type": "object",
            "required": ["error", "message", "errors"],
            "properties": {
                "error": {"type": "string", "const": "unknown_parameter"},
                "message": {"type": "string", "description": "Os parâmetros desconhecidos e os aceitos."},
                "errors": {"type": "object", "additionalProperties": {"type": "string"}},
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
        "ShippingAddress": _object(
            {
                "name": _text("Quem recebe (nomeDestinatario do Tiny; sem ele, o cliente)"),
                "street": _text(),
                "number": _text(),
                "complement": _text(),
                "district": _text(),
                "city": _text(),
                "state": _text("UF"),
                "zip": _text("CEP, só dígitos"),
                "country": _text(),
            },
            "Para onde vai o pacote: o endereço de entrega do pedido no Tiny (enderecoEntrega), "
            "ou, quando o Tiny não informa um, o endereço do cliente.",
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
                    "type": ["string", "null"],
                    "pattern": r"^-?[0-9]+\.[0-9]{2}$",
                    "description": "Valor total em reais, exato, com duas casas: \"1234.50\". "
                    "null quando o Tiny não informou o valor (nunca um 0.00 inventado).",
                },
                "created_at": date_or_datetime,
                "customer": _nullable(_ref("Customer")),
                "invoice": _nullable(_ref("Invoice")),
                "carrier": _nullable(_ref("Carrier")),
                "tracking_code": _text(),
                "tracking_url": _text(),
                "tracking_status": {"type": "string", "enum": [s.value for s in ShipmentStatus]},
                "import_error": _text("Por que a última versão do pedido no Tiny não pôde ser importada."),
                "warnings": {
                    "type": "array",
                    "items": _ref("Warning"),
                    "description": "Defeitos em campos do pedido no Tiny. O pedido foi importado, e o "
                    "valor com defeito ficou de fora do campo validado.",
                },
                "shipping_address": _nullable(_ref("ShippingAddress")),
            }
        ),
        "Warning": _object(
            {
                "field": {
                    "type": "string",
                    "description": "O campo com defeito, com os nomes desta API: customer.document, "
                    "customer.email, customer.phone, customer.address.zip, invoice.access_key, "
                    "tracking_code, tracking_url, carrier, total…",
                },
                "message": {"type": "string", "description": "O defeito explicado em português."},
            }
        ),
        "ImportFailure": _object(
            {
                "id": {"type": "integer"},
                "erp_order_id": _nullable({"type": "integer", "description": "O id do pedido no Tiny."}),
                "number": _text("Número do pedido, quando foi possível lê-lo."),
                "customer_name": _text("Nome do cliente, quando foi possível lê-lo."),
                "reason": {"type": "string", "description": "Por que não virou um pedido, em português."},
                "first_seen_at": {"type": "string", "format": "date-time"},
                "last_seen_at": {"type": "string", "format": "date-time"},
                "erp_url": _text("O pedido no aplicativo web do Tiny, quando o id é conhecido."),
            },
            "Um item do Tiny que não pôde virar pedido: sem id utilizável, ou ilegível.",
        ),
        "ImportFailurePage": _page("ImportFailure"),
        "RetryResult": _object(
            {
                "id": {"type": "integer"},
                "outcome": {
                    "type": "string",
                    "enum": [o.value for o in RetryOutcome],
                    "description": "imported: o pedido entrou e a falha foi resolvida; failed: continua "
                    "ilegível (reason diz por quê); not_found: o Tiny não tem mais o pedido; "
                    "already_resolved: nada a fazer.",
                },
                "reason": _text(),
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
                "missing_permissions": {
                    "type": "array",
                    "items": {"type": "string", "enum": [p.value for p in ErpPermission]},
                    "description": "Permissões de leitura que faltam ao aplicativo no Tiny (o Tiny respondeu 403): "
                    + "; ".join(f"{p.value} = “{p.box}”" for p in ErpPermission)
                    + ". A conexão continua ativa e importa o que as outras permissões permitem; "
                    "marcada a permissão no Tiny, o que ficou de fora é completado sozinho.",
                },
                "last_error": _text("O último problema, em português: só o motivo (a chamada à ação fica com a interface)."),
                "next_sync_at": _nullable({"type": "string", "format": "date-time",
                                           "description": "Quando a próxima sincronização está marcada."}),
            },
            "A integração com o Tiny. O Client Secret nunca é devolvido.",
        ),
        "IntegrationInput": {
            "type": "object",
            "required": ["client_id", "invite_link"],
            "properties": {
                "client_id": {
                    "type": "string",
                    "maxLength": ErpCredentials.CLIENT_ID_MAX,
                    "pattern": anchored(ErpCredentials.CLIENT_ID_SHAPE),
                    "description": "Como o Tiny mostra no aplicativo: tiny-api-<40 hex>-<hora>.",
                },
                "client_secret": {
                    "type": ["string", "null"],
                    "maxLength": ErpCredentials.CLIENT_SECRET_MAX,
                    "pattern": anchored(ErpCredentials.TOKEN),
                    "writeOnly": True,
                    "description": "Ausente ou null mantém o já salvo.",
                },
                "invite_link": {
                    "type": "string",
                    "maxLength": ErpCredentials.INVITE_LINK_MAX,
                    "pattern": anchored(*ErpCredentials.invite_link_patterns(auth_host)),
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
        "SyncScheduled": _object({"next_sync_at": {"type": "string", "format": "date-time"}}),
        "SyncRefused": {
            "type": "object",
            "required": ["error", "message", "next_allowed_at", "next_sync_at"],
            "properties": {
                "error": {"type": "string", "const": "too_many_requests"},
                "message": {"type": "string"},
                "next_allowed_at": {"type": "string", "format": "date-time",
                                    "description": "A partir de quando outra sincronização manual é aceita."},
                "next_sync_at": _nullable({"type": "string", "format": "date-time"}),
            },
        },
        "Event": _object(
            {
                "at": {"type": "string", "format": "date-time"},
                "kind": {"type": "string", "enum": [k.value for k in EventKind]},
                "message": _text("O que aconteceu, em português (numa linha de sincronizações sem novidades: quantas)."),
                "imported": {"type": "integer", "minimum": 0, "description": "Pedidos novos."},
                "updated": {"type": "integer", "minimum": 0, "description": "Pedidos que mudaram."},
                "failed": {"type": "integer", "minimum": 0, "description": "Pedidos que não puderam ser importados."},
                "api_calls": {"type": "integer", "minimum": 0, "description": "Chamadas à API do Tiny."},
            }
        ),
        "EventPage": _page("Event"),
        "Notifications": _object(
            {
                "email": {"type": "boolean", "description": "Avisos por e-mail, para o e-mail de login."},
                "webhook_url": _text("O webhook https que recebe os avisos."),
                "webhook_secret": _text("O segredo que assina o webhook (X-Kanglu-Signature: sha256=<HMAC hex do "
                                        "corpo>). Só na resposta do PUT que o criou (um webhook novo); depois, null."),
            }
        ),
        "NotificationsInput": {
            "type": "object",
            "properties": {
                "email": {"type": "boolean", "default": True},
                "webhook_url": {"type": ["string", "null"], "maxLength": WEBHOOK_URL_MAX, "pattern": WEBHOOK_URL_PATTERN,
                                "description": "Ausente ou null: sem webhook."},
            },
        },
        "CarrierMapping": _object(
            {
                "id": {"type": "string"},
                "shipping_service": {"type": "string", "description": "A forma de envio, como o Tiny escreve."},
                "carrier": {"type": "string", "description": "O código da transportadora, ou none (não rastrear)."},
            }
        ),
        "CarrierMappings": _object({"mappings": {"type": "array", "items": _ref("CarrierMapping")}}),
        "CarrierMappingsInput": {
            "type": "object",
            "required": ["mappings"],
            "properties": {
                "mappings": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["shipping_service", "carrier"],
                        "properties": {
                            "shipping_service": {"type": "string", "minLength": 1, "maxLength": SHIPPING_SERVICE_MAX,
                                                 "pattern": "[A-Za-z0-9]",
                                                 "description": "Com ao menos uma letra ou um número."},
                            "carrier": {"type": "string", "enum": carrier_codes},
                        },
                    },
                    "description": "As formas de envio listadas mudam; as outras ficam como estão.",
                }
            },
        },
        "StatusMappings": _object({
            "mappings": {"type": "array", "items": _ref("StatusMapping")},
            "import_point_of_sale": {
                "type": "boolean",
                "description": "Se as vendas de PDV (balcão, origemPedido 1) são importadas. Padrão: não.",
            },
        }),
        "StatusMappingsInput": {
            "type": "object",
            "required": ["mappings"],
            "properties": {
                "mappings": {
                    "type": "array",
                    "maxItems": MAX_ITEMS,
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
                },
                "import_point_of_sale": _nullable({
                    "type": "boolean",
                    "description": "Opcional: importar (true) ou não (false) as vendas de PDV. Ausente ou null: "
                    "fica como está. Ao ligar, a próxima sincronização relê o período inicial para trazê-las.",
                }),
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
    "tracking_status": {
        "name": "tracking_status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": [s.value for s in ShipmentStatus]},
    },
    "carrier": {
        "name": "carrier",
        "in": "query",
        "required": False,
        "description": "O código da transportadora; `unknown`: transportadora não identificada; `none`: não rastrear.",
        "schema": {"type": "string", "enum": [c.code for c in DEFAULT_REGISTRY] + [NOT_TRACKED.code, UNKNOWN_CARRIER]},
    },
    "updated_since": {
        "name": "updated_since",
        "in": "query",
        "required": False,
        "description": "Pedidos que mudaram na Kanglu a partir deste instante (ISO 8601; sem fuso, horário de São Paulo).",
        "schema": {"type": "string", "format": "date-time"},
    },
}


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}
INVALID = {"$ref": "#/components/responses/Invalid"}
NOT_FOUND = {"$ref": "#/components/responses/NotFound"}
UNKNOWN_PARAMETER = {"$ref": "#/components/responses/UnknownParameter"}
CONFLICT = {"$ref": "#/components/responses/Conflict"}


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, "responses": {**responses, "401": UNAUTHORIZED}, **extra}


def document(auth_host: str | None = None) -> dict[str, Any]:
    integration = _json(_ref("Integration"), "A integração com o Tiny.")
    mappings = _json(_ref("StatusMappings"), "A ação de cada situação do Tiny.")
    notifications = _json(_ref("Notifications"), "Os avisos do lojista.")
    carrier_mappings = _json(_ref("CarrierMappings"), "As indicações do lojista.")
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
            "/integrations/tiny/sync": {
                "post": _operation(
                    "syncTinyNow",
                    "Sincronizar agora (no máximo uma vez por minuto)",
                    {
                        "202": _json(_ref("SyncScheduled"), "A sincronização foi marcada para agora."),
                        "409": CONFLICT,
                        "429": _json(_ref("SyncRefused"), "Já houve uma há menos de um minuto: nada foi marcado."),
                    },
                )
            },
            "/integrations/tiny/events": {
                "get": _operation(
                    "listTinyEvents",
                    "O histórico da integração, do mais novo ao mais antigo (90 dias)",
                    {"200": _json(_ref("EventPage"), "Uma página do histórico."), "400": UNKNOWN_PARAMETER,
                     "422": INVALID},
                    parameters=[_param("page"), _param("per_page")],
                    description="Sincronizações sem novidades são agrupadas: uma linha por hora.",
                )
            },
            "/notifications": {
                "get": _operation("getNotifications", "Os avisos de desconexão, permissão e volta",
                                  {"200": notifications}),
                "put": _operation(
                    "saveNotifications",
                    "Mudar os avisos",
                    {"200": notifications, "422": INVALID},
                    requestBody={"required": True,
                                 "content": {"application/json": {"schema": _ref("NotificationsInput")}}},
                ),
            },
            "/carrier-mappings": {
                "get": _operation("getCarrierMappings", "As transportadoras indicadas para formas de envio",
                                  {"200": carrier_mappings}),
                "put": _operation(
                    "saveCarrierMappings",
                    "Indicar a transportadora de formas de envio (ou none: não rastrear)",
                    {"200": carrier_mappings, "409": CONFLICT, "422": INVALID},
                    requestBody={"required": True,
                                 "content": {"application/json": {"schema": _ref("CarrierMappingsInput")}}},
                ),
            },
            "/carrier-mappings/{id}": {
                "delete": _operation(
                    "deleteCarrierMapping",
                    "Apagar uma indicação (os pedidos já importados ficam como estão)",
                    {"200": carrier_mappings, "404": NOT_FOUND},
                    parameters=[{"name": "id", "in": "path", "required": True,
                                 "schema": {"type": "string", "maxLength": 64}}],
                )
            },
            "/orders": {
                "get": _operation(
                    "listOrders",
                    "Pedidos, do mais novo ao mais antigo",
                    {"200": _json(_ref("OrderPage"), "Uma página de pedidos."), "400": UNKNOWN_PARAMETER,
                     "422": INVALID},
                    parameters=[_param("situacao"), _param("tracking_status"), _param("carrier"),
                                _param("updated_since"), _param("q"), _param("page"), _param("per_page")],
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
            "/import-failures": {
                "get": _operation(
                    "listImportFailures",
                    "Itens do Tiny que não puderam virar pedido, do mais recente ao mais antigo",
                    {"200": _json(_ref("ImportFailurePage"), "Uma página de falhas."), "422": INVALID},
                    parameters=[_param("page"), _param("per_page")],
                )
            },
            "/import-failures/{id}/retry": {
                "post": _operation(
                    "retryImportFailure",
                    "Buscar o pedido no Tiny de novo, agora",
                    {
                        "202": _json(_ref("RetryResult"), "O que aconteceu ao buscar o pedido."),
                        "404": NOT_FOUND,
                        "409": _json(_ref("Error"), "Sem id do Tiny, ou integração desconectada."),
                        "503": _json(_ref("Error"), "O Tiny não respondeu: tente de novo em instantes."),
                    },
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
                    {"200": _json(_ref("CustomerPage"), "Uma página de clientes."), "400": UNKNOWN_PARAMETER,
                     "422": INVALID},
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
                "UnknownParameter": _json(_ref("UnknownParameterError"), "Um parâmetro que a rota não conhece; "
                                          "a mensagem lista os aceitos."),
            },
            "schemas": _schemas(auth_host),
        },
    }
