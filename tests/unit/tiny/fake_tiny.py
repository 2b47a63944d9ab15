"""An in-memory Tiny API v3 behind httpx.MockTransport, and payload builders from the spec.

Not a mock of httpx: MockTransport is httpx's own test transport; this module plays Tiny's
side of the wire (paging, filters, bearer tokens, rate-limit headers) and can be scripted to
answer faults first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.builders import access_key, cpf, s10

API = "https://api.tiny.test/public-api/v3"
AUTH = "https://accounts.tiny.test/realms/tiny/protocol/openid-connect"

Scripted = httpx.Response | Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A monotonic clock that only moves when something sleeps: pacing is checked by the
    sleeps it asks for, never by the wall clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeTokens:
    """A TokenSource: `renew()` hands out the next token of the list."""

    def __init__(self, *tokens: str, key: str = "connection:1") -> None:
        self._tokens = list(tokens) or ["token-one"]
        self._current = 0
        self.key = key
        self.renewals = 0

    def access_token(self):  # type: ignore[no-untyped-def]
        from kanglu.domain.secrets import Secret

        return Secret(self._tokens[self._current])

    def renew(self):  # type: ignore[no-untyped-def]
        self.renewals += 1
        self._current = min(self._current + 1, len(self._tokens) - 1)
        return self.access_token()


def listing_item(order_id: int, situacao: int | str = 5, **overrides: Any) -> dict[str, Any]:
    """A GET /pedidos item shaped like the spec's ListagemPedidoModelResponse."""
    item: dict[str, Any] = {
        "id": order_id,
        "situacao": situacao,
        "numeroPedido": 10000 + order_id,
        "ecommerce": {"id": 1, "nome": "Loja", "numeroPedidoEcommerce": f"MLB-{order_id}",
                      "numeroPedidoCanalVenda": None, "canalVenda": "Mercado Livre"},
        "dataCriacao": "2026-06-20 10:30:00",
        "dataPrevista": "",
        "cliente": {
            "id": 5000 + order_id, "nome": f"Cliente {order_id}", "codigo": "", "fantasia": None,
            "tipoPessoa": "F", "cpfCnpj": cpf(order_id), "inscricaoEstadual": "", "rg": "",
            "telefone": "(11) 3333-4444", "celular": "(11) 98888-7777", "email": f"c{order_id}@example.com",
            "endereco": {"endereco": "Rua das Flores", "numero": "10", "complemento": "", "bairro": "Centro",
                         "municipio": "São Paulo", "cep": "01001-000", "uf": "SP", "pais": "Brasil"},
        },
        "valor": "1234.50",
        "vendedor": {"id": 1, "nome": "Vendedor"},
        "transportador": {
            "id": 7, "nome": "Correios", "fretePorConta": "R",
            "formaEnvio": {"id": 3, "nome": "Correios"}, "formaFrete": {"id": 31, "nome": "SEDEX"},
            "codigoRastreamento": s10(order_id).value, "urlRastreamento": "",
        },
        "origemPedido": 0,
    }
    item.update(overrides)
    return item


def nota_item(nota_id: int, order_id: int | None, situacao: int | str = "6", **overrides: Any) -> dict[str, Any]:
    """A GET /notas item shaped like the spec's ListagemNotaFiscalModelResponse."""
    item: dict[str, Any] = {
        "id": nota_id,
        "situacao": situacao,
        "tipo": "S",
        "numero": f"{nota_id:06d}",
        "serie": "001",
        "chaveAcesso": access_key(nota_id).value,
        "dataEmissao": "2026-06-21",
        "codigoRastreamento": "",
        "urlRastreamento": "",
        "origem": {"id": str(order_id), "tipo": "venda"} if order_id is not None else None,
    }
    item.update(overrides)
    return item


class FakeTiny:
    """Tiny's API v3 for a single account. Hidden `_updated`/`_created` keys carry the dates
    the filters read; they are stripped from the answers."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = set(tokens or ["token-one"])
        self.orders: list[dict[str, Any]] = []
        self.notas: list[dict[str, Any]] = []
        self.formas: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {"razaoSocial": "Loja Exemplo LTDA", "fantasia": "Loja Exemplo",
                                     "cpfCnpj": "11.222.333/0001-81", "email": "loja@example.com"}
        self.script: list[Scripted] = []
        self.requests: list[httpx.Request] = []
        self.rate_headers: dict[str, str] = {}
        self.request_ids = iter(range(1, 10**9))
        self.refuse_time_in_update_filter = False  # a 400 for dataAtualizacao with a time, as Tiny may

    # -- the transport -------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport())

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            scripted = self.script.pop(0)
            return scripted(request) if callable(scripted) else scripted
        headers = {"X-Request-Id": f"req-{next(self.request_ids)}", **self.rate_headers}
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return httpx.Response(401, json={"mensagem": "Token inválido"}, headers=headers)
        path = request.url.path.removeprefix("/public-api/v3")
        q = request.url.params
        if path == "/info":
            return httpx.Response(200, json=self.info, headers=headers)
        if path == "/pedidos":
            if self.refuse_time_in_update_filter and len(q.get("dataAtualizacao", "")) > 10:
                return httpx.Response(400, json={"mensagem": "Ocorreram erros de validação", "detalhes": [
                    {"campo": "dataAtualizacao", "mensagem": "data inválida"}]}, headers=headers)
            rows = [o for o in self.orders
                    if (not q.get("dataAtualizacao") or o.get("_updated", "9999") >= q["dataAtualizacao"][:10])  # a time ignored
                    and (not q.get("situacao") or str(o.get("situacao")) == q["situacao"])]
            return self._page(sorted(rows, key=_by_id), q, headers)
        if path == "/notas":
            rows = [n for n in self.notas if self._nota_matches(n, q)]
            return self._page(sorted(rows, key=_by_id), q, headers)
        if path == "/formas-envio":
            return self._page(self.formas, q, headers)
        collection, _, record_id = path.rpartition("/")
        rows = {"/pedidos": self.orders, "/notas": self.notas, "/formas-envio": self.formas}.get(collection)
        if rows is not None:
            found = [r for r in rows if str(r.get("id")) == record_id]
            if found:
                return httpx.Response(200, json=self._public(found[0]), headers=headers)
            return httpx.Response(404, json={"mensagem": "Registro não encontrado", "detalhes": []}, headers=headers)
        return httpx.Response(404, json={"mensagem": "Rota inexistente"}, headers=headers)

    @staticmethod
    def _nota_matches(nota: dict[str, Any], q: httpx.QueryParams) -> bool:
        created = nota.get("_created", nota.get("dataEmissao", ""))[:10]
        origem = nota.get("origem") or {}
        return (
            (not q.get("tipo") or nota.get("tipo") == q["tipo"])
            and (not q.get("dataInicial") or created >= q["dataInicial"])
            and (not q.get("dataFinal") or created <= q["dataFinal"])
            and (not q.get("idVenda") or str(origem.get("id")) == q["idVenda"])
            and (not q.get("situacao") or str(nota.get("situacao")) == q["situacao"])
        )

    @staticmethod
    def _public(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if not k.startswith("_")}

    def _page(self, rows: list[dict[str, Any]], q: httpx.QueryParams, headers: dict[str, str]) -> httpx.Response:
        limit = int(q.get("limit", 100))
        offset = int(q.get("offset", 0))
        if q.get("orderBy") == "desc":
            rows = rows[::-1]
        body = {"itens": [self._public(r) for r in rows[offset:offset + limit]],
                "paginacao": {"limit": limit, "offset": offset, "total": len(rows)}}
        # Sent as text so that numbers keep the exact form a test gave them.
        return httpx.Response(200, content=json.dumps(body).encode(), headers={**headers,
                              "Content-Type": "application/json"})

    # -- what the tests look at ----------------------------------------------------------

    def calls(self, path_prefix: str = "") -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.removeprefix("/public-api/v3").startswith(path_prefix)]


def _by_id(row: dict[str, Any]) -> tuple[int, int]:
    """Tiny orders listings by id; rows with a broken id (tests of malformed items) go last."""
    value = row.get("id")
    return (0, value) if isinstance(value, int) else (1, 0)
