"""The API v3 subset: query validation, filters and paging over an account's dataset.

Handlers take the account and the query string and return (status, JSON body); the WSGI layer
adds authentication, rate limiting, faults and headers. The caller holds the account's lock.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, time, timedelta
from typing import Any, TypeVar

import attrs

from kanglu.sandbox import payloads
from kanglu.sandbox.accounts import Account
from kanglu.sandbox.clock import SAO_PAULO
from kanglu.sandbox.model import Invoice, Order

Json = dict[str, Any]
Answer = tuple[int, Json]
T = TypeVar("T")

ORDER_SITUACOES = (8, 0, 3, 4, 1, 7, 5, 6, 2, 9)
INVOICE_SITUACOES = tuple(range(1, 11))
FORMA_TIPOS = tuple(range(0, 32))
VALIDATION = "Ocorreram erros de validação"


class Invalid(Exception):
    """A 400 answer in Tiny's ErrorDTO shape."""

    def __init__(self, detalhes: list[dict[str, str]]) -> None:
        super().__init__(VALIDATION)
        self.detalhes = detalhes

    def body(self) -> Json:
        return {"mensagem": VALIDATION, "detalhes": self.detalhes}


def not_found(message: str) -> Answer:
    return 404, {"mensagem": message, "detalhes": []}


class Query:
    """Reads and validates query parameters, collecting every problem before answering."""

    def __init__(self, args: Mapping[str, str]) -> None:
        self.args = args
        self.problems: list[dict[str, str]] = []

    def _fail(self, campo: str, mensagem: str) -> None:
        self.problems.append({"campo": campo, "mensagem": mensagem})

    def text(self, name: str) -> str | None:
        value = self.args.get(name)
        return value if value not in (None, "") else None

    def integer(self, name: str, default: int | None = None, minimum: int | None = None,
                choices: Iterable[int] | None = None) -> int | None:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            self._fail(name, f"O campo {name} deve ser um número inteiro")
            return default
        if minimum is not None and value < minimum:
            self._fail(name, f"O campo {name} deve ser maior ou igual a {minimum}")
            return default
        if choices is not None and value not in tuple(choices):
            allowed = ", ".join(str(c) for c in choices)
            self._fail(name, f"O campo {name} deve ser um dos valores: {allowed}")
            return default
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        raw = self.text(name)
        if raw is None:
            return default
        if raw not in choices:
            self._fail(name, f"O campo {name} deve ser um dos valores: {', '.join(choices)}")
            return default
        return raw

    def moment(self, name: str, end_of_day: bool = False) -> float | None:
        """A São Paulo date or date-time as epoch seconds; a bare date means its first (or last) second."""
        parsed = self.stamp(name)
        if parsed is None:
            return None
        when, has_time = parsed
        if not has_time:
            when = datetime.combine(when.date(), time.max.replace(microsecond=0) if end_of_day else time.min)
        return when.replace(tzinfo=SAO_PAULO).timestamp()

    def stamp(self, name: str) -> tuple[datetime, bool] | None:
        """A date or date-time as given (naive, São Paulo), and whether it had a time part."""
        raw = self.text(name)
        if raw is None:
            return None
        raw = raw.strip()
        for fmt, has_time in (("%Y-%m-%d %H:%M:%S", True), ("%Y-%m-%dT%H:%M:%S", True),
                              ("%Y-%m-%d %H:%M", True), ("%Y-%m-%d", False)):
            try:
                return datetime.strptime(raw, fmt), has_time
            except ValueError:
                continue
        self._fail(name, f"O campo {name} deve ser uma data no formato AAAA-MM-DD ou AAAA-MM-DD HH:MM:SS")
        return None

    def update_window(self, name: str, meaning: str, time_reaction: str) -> tuple[float, float] | None:
        """dataAtualizacao as the [from, until) epoch window the account's meaning gives it.

        since_day: from the day's midnight on; day_only: that day only; since_moment: from that
        second on (a bare date from its midnight). Under the day meanings a time part is ignored,
        or refused like any malformed value (`time_reaction` "reject")."""
        parsed = self.stamp(name)
        if parsed is None:
            return None
        when, has_time = parsed
        if has_time and meaning != "since_moment" and time_reaction == "reject":
            self._fail(name, f"O campo {name} deve ser uma data no formato AAAA-MM-DD")
            return None
        midnight = datetime.combine(when.date(), time.min).replace(tzinfo=SAO_PAULO)
        if meaning == "since_moment":
            return when.replace(tzinfo=SAO_PAULO).timestamp(), math.inf
        if meaning == "day_only":
            next_midnight = datetime.combine(when.date() + timedelta(days=1), time.min).replace(tzinfo=SAO_PAULO)
            return midnight.timestamp(), next_midnight.timestamp()
        return midnight.timestamp(), math.inf

    def paging(self) -> tuple[int, int, bool]:
        limit = self.integer("limit", 100, minimum=1)
        offset = self.integer("offset", 0, minimum=0)
        descending = self.choice("orderBy", ("asc", "desc"), "desc") == "desc"
        return limit or 100, offset or 0, descending

    def check(self) -> None:
        if self.problems:
            raise Invalid(self.problems)


def bare_document(text: str | None) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text or "").upper()


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _page(matches: list[T], limit: int, offset: int, descending: bool, render: Callable[[T], Json]) -> Json:
    """Tiny lists by id; orderBy picks the direction. `matches` comes in ascending id order."""
    if descending:
        matches.reverse()
    return {
        "itens": [render(item) for item in matches[offset:offset + limit]],
        "paginacao": {"limit": limit, "offset": offset, "total": len(matches)},
    }


def _order_document(account: Account, order: Order) -> str:
    customer = account.dataset.customer(order)
    return bare_document(payloads.document_text(customer, order))


def list_pedidos(account: Account, args: Mapping[str, str]) -> Answer:
    q = Query(args)
    settings = account.settings
    situacao = q.integer("situacao", choices=ORDER_SITUACOES)
    updated = q.update_window("dataAtualizacao", settings.update_filter, settings.update_filter_time)
    origem = q.integer("origemPedido", choices=(0, 1))
    created_from = q.moment("dataInicial")
    created_to = q.moment("dataFinal", end_of_day=True)
    numero = q.integer("numero")
    ecommerce_number = q.text("numeroPedidoEcommerce")
    document = bare_document(q.text("cpfCnpj")) or None
    limit, offset, descending = q.paging()
    q.check()
    matches = []
    for order in account.dataset.orders:
        if situacao is not None and order.situacao != situacao:
            continue
        if updated is not None and not updated[0] <= order.updated < updated[1]:
            continue
        if origem is not None and order.origem != origem:
            continue
        if created_from is not None and order.created < created_from:
            continue
        if created_to is not None and order.created > created_to:
            continue
        if numero is not None and order.numero != numero:
            continue
        if ecommerce_number is not None and order.ecommerce_number != ecommerce_number:
            continue
        if document is not None and _order_document(account, order) != document:
            continue
        matches.append(order)
    dataset = account.dataset
    return 200, _page(matches, limit, offset, descending, lambda o: payloads.pedido_listing(dataset, o))


def _path_id(raw: str, campo: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise Invalid([{"campo": campo, "mensagem": f"O campo {campo} deve ser um número inteiro"}]) from None
    return value


def _detail(raw_id: str, campo: str, table: Mapping[int, T], missing: str, render: Callable[[T], Json]) -> Answer:
    record = table.get(_path_id(raw_id, campo))
    if record is None:
        return not_found(missing)
    return 200, render(record)


def get_pedido(account: Account, raw_id: str) -> Answer:
    dataset = account.dataset
    return _detail(raw_id, "idPedido", dataset.orders_by_id, "Pedido não encontrado",
                   lambda order: payloads.pedido_detail(dataset, order))


@attrs.frozen
class _NotaFilters:
    """GET /notas's filters (None: not asked), in the order Tiny's validation reports them."""

    situacao: int | None
    numero: int | None
    document: str | None
    emitted_from: float | None
    emitted_to: float | None
    ecommerce_number: str | None
    id_venda: int | None
    id_forma: int | None

    @classmethod
    def read(cls, q: Query) -> _NotaFilters:
        return cls(
            situacao=q.integer("situacao", choices=INVOICE_SITUACOES),
            numero=q.integer("numero"),
            document=bare_document(q.text("cpfCnpj")) or None,
            emitted_from=q.moment("dataInicial"),
            emitted_to=q.moment("dataFinal", end_of_day=True),
            ecommerce_number=q.text("numeroPedidoEcommerce"),
            id_venda=q.integer("idVenda"),
            id_forma=q.integer("idFormaEnvio"),
        )

    def admit(self, account: Account, invoice: Invoice, order: Order) -> bool:
        return self._invoice_fits(invoice) and self._order_fits(account, order)

    def _invoice_fits(self, invoice: Invoice) -> bool:
        return (
            (self.situacao is None or invoice.situacao == self.situacao)
            and (self.numero is None or invoice.numero == self.numero)
            and (self.id_venda is None or invoice.order_id == self.id_venda)
            and (self.emitted_from is None or invoice.emitted >= self.emitted_from)
            and (self.emitted_to is None or invoice.emitted <= self.emitted_to)
        )

    def _order_fits(self, account: Account, order: Order) -> bool:
        if self.ecommerce_number is not None and order.ecommerce_number != self.ecommerce_number:
            return False
        if self.id_forma is not None and (order.forma is None or order.forma.id != self.id_forma):
            return False
        # Last: the customer's document is drawn again from its seed.
        return self.document is None or _order_document(account, order) == self.document


def list_notas(account: Account, args: Mapping[str, str]) -> Answer:
    q = Query(args)
    tipo = q.choice("tipo", ("E", "S"))
    filters = _NotaFilters.read(q)
    limit, offset, descending = q.paging()
    q.check()
    dataset = account.dataset
    matches: list[Invoice] = []
    if tipo != "E":  # the sandbox only issues outgoing (saída) invoices
        matches = [i for i in dataset.invoices if filters.admit(account, i, dataset.orders_by_id[i.order_id])]
    return 200, _page(matches, limit, offset, descending, lambda i: payloads.nota_listing(dataset, i))


def get_nota(account: Account, raw_id: str) -> Answer:
    dataset = account.dataset
    return _detail(raw_id, "idNota", dataset.invoices_by_id, "Nota fiscal não encontrada",
                   lambda invoice: payloads.nota_detail(dataset, invoice))


def list_formas_envio(account: Account, args: Mapping[str, str]) -> Answer:
    q = Query(args)
    nome = q.text("nome")
    tipo = q.integer("tipo", choices=FORMA_TIPOS)
    situacao = q.integer("situacao", choices=(1, 2))
    limit, offset, _ = q.paging()
    q.check()
    matches = [
        f for f in account.dataset.formas
        if (nome is None or _fold(nome) in _fold(f.nome))
        and (tipo is None or f.tipo == tipo)
        and (situacao is None or f.situacao == situacao)
    ]
    return 200, _page(matches, limit, offset, False, payloads.forma_envio_listing)


def get_forma_envio(account: Account, raw_id: str) -> Answer:
    return _detail(raw_id, "idFormaEnvio", account.dataset.formas_by_id, "Forma de envio não encontrada",
                   payloads.forma_envio_detail)


def get_info(account: Account) -> Answer:
    return 200, payloads.info(account.dataset.company)

