"""A deterministic, realistic dataset for one sandbox account, and the changes life makes to it.

Everything is drawn from `random.Random` seeded by the account's seed, so a seed and an anchor
time always give the same orders. Only the facts an order keeps (ids, situação, dates, shipping,
tracking code, invoice) are stored; the customer and the items are drawn again from per-order
seeds when a payload is rendered, which keeps a 10,000-order account a few megabytes.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
import re
import threading
import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from kanglu.sandbox import brazil
from kanglu.sandbox import identifiers as ids
from kanglu.sandbox.catalog import FormaEnvio, build_catalogue, code_for
from kanglu.sandbox.model import Address, Company, Customer, Invoice, Item, Malformed, Order, Quirk

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
DAY = 86_400
HOUR = 3_600
SPREAD_DAYS = 60

# Realistic mix: most orders are invoiced, ready, shipped or delivered.
SITUACAO_WEIGHTS = {1: 14, 7: 12, 5: 22, 6: 26, 0: 5, 3: 4, 4: 5, 8: 2, 2: 7, 9: 3}
_SITUACOES = tuple(SITUACAO_WEIGHTS)
_SITUACAO_CUM = tuple(itertools.accumulate(SITUACAO_WEIGHTS.values()))
INVOICED = frozenset({1, 7, 5, 6, 9})
# Chance that an order in a situação already has a tracking code.
_TRACKING_CHANCE = {8: 0.0, 0: 0.0, 3: 0.0, 4: 0.3, 1: 0.5, 7: 0.9, 5: 0.97, 6: 0.97, 9: 0.97, 2: 0.15}
# How long after creation an order in a situação was last changed: (min, max) seconds.
_UPDATE_DELAY = {
    8: (0, 2 * HOUR), 0: (0, 2 * HOUR), 3: (HOUR, DAY), 4: (HOUR, 2 * DAY), 1: (HOUR, 3 * DAY),
    7: (HOUR, 4 * DAY), 5: (DAY, 6 * DAY), 6: (3 * DAY, 12 * DAY), 9: (5 * DAY, 15 * DAY), 2: (0, 5 * DAY),
}
_ECOMMERCE_WEIGHTS = (35, 25, 10, 10, 10, 5, 5)
_QUIRK_CHANCES = (
    (Quirk.CLIENTE_NULL, 0.01), (Quirk.CLIENTE_ABSENT, 0.005), (Quirk.ENDERECO_NULL, 0.01),
    (Quirk.TRANSPORTADOR_NULL, 0.02), (Quirk.TRANSPORTADOR_ABSENT, 0.01), (Quirk.TRACKING_NULL, 0.3),
    (Quirk.DATA_PREVISTA_EMPTY, 0.25), (Quirk.VENDEDOR_NULL, 0.4), (Quirk.ECOMMERCE_ABSENT, 0.2),
)
# Authorised invoice situações (6 Autorizada, 7 Emitida DANFE, 2 Emitida) carry a valid key.
AUTHORISED_INVOICE = frozenset({2, 6, 7})


def _slug(text: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_only.lower())


def _city(rng: random.Random) -> tuple[str, str, int, int]:
    return rng.choices(brazil.CITIES, weights=brazil.CITY_WEIGHTS)[0]


def _address(rng: random.Random, city: tuple[str, str, int, int] | None = None) -> Address:
    name, uf, low, high = city or _city(rng)
    cep = f"{rng.randint(low, high):08d}"
    return Address(
        endereco=f"{rng.choice(brazil.STREET_KINDS)} {rng.choice(brazil.STREET_NAMES)}",
        numero="S/N" if rng.random() < 0.03 else str(rng.randint(1, 3500)),
        complemento=rng.choice(brazil.COMPLEMENTS) if rng.random() < 0.4 else "",
        bairro=rng.choice(brazil.DISTRICTS),
        municipio=name,
        cep=f"{cep[:5]}-{cep[5:]}" if rng.random() < 0.7 else cep,
        uf=uf,
        pais="Brasil" if rng.random() < 0.8 else "",
    )


def _phone(rng: random.Random, uf: str, mobile: bool) -> str:
    ddd = rng.choice(brazil.DDD[uf])
    if mobile:
        number = "9" + ids.digits(rng, 8, "6789")
        local = f"{number[:5]}-{number[5:]}"
    else:
        number = ids.digits(rng, 8, "2345")
        local = f"{number[:4]}-{number[4:]}"
    style = rng.random()
    if style < 0.6:
        return f"({ddd}) {local}"
    if style < 0.85:
        return f"{ddd}{number}"
    return f"+55 {ddd} {local}"


@functools.lru_cache(maxsize=16_384)
def make_customer(seed: int) -> Customer:
    """A customer drawn from its own seed: the same seed always gives the same person."""
    rng = random.Random(seed)
    kind = rng.random()
    city = _city(rng)
    address = _address(rng, city)
    uf = city[1]
    if kind < 0.85:
        tipo = "F"
        first = rng.choice(brazil.FIRST_NAMES)
        surnames = rng.sample(brazil.SURNAMES, 2)
        nome = f"{first} {' '.join(surnames)}"
        document = ids.cpf(rng)
        fantasia = ""
        ie = ""
        rg = ids.digits(rng, 9) if rng.random() < 0.3 else ""
        email_user = f"{_slug(first)}.{_slug(surnames[-1])}{rng.randint(1, 999)}"
    elif kind < 0.98:
        tipo = "J"
        surname = rng.choice(brazil.SURNAMES)
        line = rng.choice(brazil.PRODUCT_LINES)
        nome = f"{surname} {rng.choice(brazil.COMPANY_SUFFIXES)} {line} {rng.choice(('Ltda', 'ME', 'EIRELI', 'S.A.'))}"
        fantasia = f"{surname} {line}"
        document = ids.cnpj(rng, alphanumeric=rng.random() < 0.25)
        ie = "ISENTO" if rng.random() < 0.3 else ids.digits(rng, 12)
        rg = ""
        email_user = f"compras.{_slug(surname)}"
    else:
        tipo = "E"  # estrangeiro: no CPF/CNPJ at all
        first = rng.choice(("John", "Marie", "Luca", "Sofia", "Hiroshi"))
        nome = f"{first} {rng.choice(('Smith', 'Dubois', 'Rossi', 'Müller', 'Tanaka'))}"
        document = ""
        fantasia = ""
        ie = ""
        rg = ""
        email_user = _slug(nome)
    phones = rng.random()
    if phones < 0.5:
        celular, telefone = _phone(rng, uf, True), ""
    elif phones < 0.75:
        celular, telefone = "", _phone(rng, uf, rng.random() < 0.5)  # celular empty, telefone present
    elif phones < 0.95:
        celular, telefone = _phone(rng, uf, True), _phone(rng, uf, False)
    else:
        celular, telefone = "", ""
    return Customer(
        id=rng.randrange(100_000_000, 999_999_999),
        nome=nome,
        codigo="" if rng.random() < 0.6 else f"CLI-{rng.randint(1, 99999):05d}",
        fantasia=fantasia,
        tipo_pessoa=tipo,
        document=document,
        formatted=rng.random() < 0.55,
        inscricao_estadual=ie,
        rg=rg,
        telefone=telefone,
        celular=celular,
        email="" if rng.random() < 0.05 else f"{email_user}@{rng.choice(brazil.EMAIL_DOMAINS)}",
        endereco=address,
    )


@attrs.frozen
class Delivery:
    """Where an order's parcel goes, as its enderecoEntrega tells: the customer's own address
    ("same"), the same with every field empty ("blank", as some answers show it), or another
    address: a gift to someone else ("gift") or the buyer's work ("work")."""

    kind: str
    nome: str | None = None
    endereco: Address | None = None


# About 15 % of orders go elsewhere than the customer's address (gifts, work addresses).
DELIVERY_ELSEWHERE = 0.15


@functools.lru_cache(maxsize=16_384)
def make_delivery(seed: int) -> Delivery:
    """Drawn from the order's own seed, apart from the dataset's stream (adding it changed no
    other draw)."""
    rng = random.Random(seed ^ 0x0E17_E6A5)
    draw = rng.random()
    if draw < DELIVERY_ELSEWHERE * 0.6:
        nome = f"{rng.choice(brazil.FIRST_NAMES)} {' '.join(rng.sample(brazil.SURNAMES, 2))}"
        return Delivery("gift", nome, _address(rng))
    if draw < DELIVERY_ELSEWHERE:
        work = _address(rng)
        return Delivery("work", None, attrs.evolve(work, complemento=rng.choice(brazil.COMPLEMENTS[5:])))
    if draw < DELIVERY_ELSEWHERE + 0.05:
        return Delivery("blank")
    return Delivery("same")


def make_items(seed: int) -> tuple[Item, ...]:
    """The items of an order, decoded from the order's 48-bit seed (cheaper than seeding a Random:
    this runs for every order an account builds)."""
    x = seed
    roll, x = x % 100, x // 100
    count = 1 if roll < 60 else 2 if roll < 85 else 3 if roll < 95 else 4
    picked: list[int] = []
    items = []
    for _ in range(count):
        index, x = x % len(brazil.PRODUCTS), x // len(brazil.PRODUCTS)
        while index in picked:
            index = (index + 1) % len(brazil.PRODUCTS)
        picked.append(index)
        roll, x = x % 20, x // 20
        quantity = 1 if roll < 16 else 2 + roll % 2
        sku, descricao, price = brazil.PRODUCTS[index]
        items.append(Item(312_000_000 + index * 7919, sku, descricao, quantity, round(price * 100)))
    return tuple(items)


def _ecommerce_number(rng: random.Random, index: int, created: int) -> str:
    code = brazil.ECOMMERCES[index][2]
    day = datetime.fromtimestamp(created, SAO_PAULO)
    if code == "MLB":
        return "2000" + ids.digits(rng, 12, "0123456789")
    if code == "SHP":
        return day.strftime("%y%m%d") + ids.alnum(rng, 8)
    if code == "AMZ":
        return f"70{rng.randint(1, 9)}-{ids.digits(rng, 7)}-{ids.digits(rng, 7)}"
    if code == "MGL":
        return "LU-" + ids.digits(rng, 14)
    return str(rng.randint(1000, 999_999))


class Dataset:
    """One account's company, formas de envio, orders and invoices, ordered by id.

    The orders are generated on first use (the benchmark creates thousands of accounts at once;
    each pays its few milliseconds when first polled), from the same random stream, so the result
    does not depend on when that happens. Mutations are not thread-safe: the account that owns the
    dataset serialises them with its lock; the first generation has a lock of its own.
    """

    def __init__(self, seed: int, orders: int, anchor: float, malformed_rate: float = 0.0,
                 alphanumeric_cnpj: bool | None = None, creation_with_time: bool | None = None) -> None:
        self.seed = seed
        # As given (None = drawn): replaying them replays the draws, so a restore rebuilds the same company.
        self._options = {"alphanumeric_cnpj": alphanumeric_cnpj, "creation_with_time": creation_with_time}
        self.revision = 0  # bumped by every change life makes, so a state file knows when to save
        self._snapshot: tuple[int, dict[str, Any]] | None = None
        self.rng = random.Random(f"kanglu-sandbox:{seed}")
        self.malformed_rate = malformed_rate
        # Defects draw from their own stream, so a malformed rate never changes the other orders.
        self._defects = random.Random(f"kanglu-sandbox:{seed}:malformed") if malformed_rate else None
        rng = self.rng
        if alphanumeric_cnpj is None:
            alphanumeric_cnpj = rng.random() < 0.2
        self.company = self._company(alphanumeric_cnpj)
        # Accounts differ in how the listing dates an order: "2025-11-25" or "2025-11-25 10:31:12".
        self.creation_with_time = rng.random() < 0.3 if creation_with_time is None else creation_with_time
        self.formas: tuple[FormaEnvio, ...] = build_catalogue(rng.randrange(100_000, 900_000) * 10, rng)
        self.formas_by_id = {f.id: f for f in self.formas}
        self._active = [f for f in self.formas if f.weight > 0]
        self._active_cum = list(itertools.accumulate(f.weight for f in self._active))
        self.serie_text = rng.choice(("1", "1", "01", "001"))
        self.serie = int(self.serie_text)
        self._orders: list[Order] = []
        self._orders_by_id: dict[int, Order] = {}
        self._invoices: list[Invoice] = []
        self._invoices_by_id: dict[int, Invoice] = {}
        self._next_order_id = rng.randrange(700_000_000, 900_000_000)
        self._next_numero = rng.randrange(1_000, 40_000)
        self._next_invoice_id = rng.randrange(500_000_000, 600_000_000)
        self._next_nf = {"55": rng.randrange(1_000, 30_000), "65": rng.randrange(1, 5_000)}
        self._customer_seeds: list[int] = []
        self._pending: tuple[int, int] | None = (orders, int(anchor))
        self._generating = threading.Lock()

    def _ensure(self) -> None:
        if self._pending is None:
            return
        with self._generating:
            if self._pending is None:
                return
            orders, anchor = self._pending
            start = anchor - SPREAD_DAYS * DAY
            created = sorted(start + int(self.rng.random() * SPREAD_DAYS * DAY) for _ in range(orders))
            for when in created:
                self._append(self._new_order(when, anchor))
            self._pending = None

    @property
    def order_count(self) -> int:
        """How many orders the account has, without generating them."""
        return self._pending[0] if self._pending is not None else len(self._orders)

    @property
    def orders(self) -> list[Order]:
        self._ensure()
        return self._orders

    @property
    def orders_by_id(self) -> dict[int, Order]:
        self._ensure()
        return self._orders_by_id

    @property
    def invoices(self) -> list[Invoice]:
        self._ensure()
        return self._invoices

    @property
    def invoices_by_id(self) -> dict[int, Invoice]:
        self._ensure()
        return self._invoices_by_id

    # ---- generation -------------------------------------------------------------------
    def _company(self, alphanumeric: bool) -> Company:
        rng = self.rng
        surname = rng.choice(brazil.SURNAMES)
        line = rng.choice(brazil.PRODUCT_LINES)
        fantasia = f"{surname} {line}"
        address = _address(rng)
        return Company(
            razao_social=f"{surname} {rng.choice(brazil.COMPANY_SUFFIXES)} {line} Ltda",
            fantasia=fantasia,
            cnpj=ids.cnpj(rng, alphanumeric=alphanumeric),
            endereco=address,
            fone=_phone(rng, address.uf, False),
            email=f"contato@{_slug(fantasia)}.com.br",
            inscricao_estadual=ids.digits(rng, 12),
            regime_tributario=rng.choice((1, 1, 1, 3)),
        )

    def _new_order(self, created: int, now: int, situacao: int | None = None) -> Order:
        rng = self.rng
        self._next_order_id += rng.randint(1, 25)
        self._next_numero += 1
        if situacao is None:
            situacao = _SITUACOES[bisect.bisect_right(_SITUACAO_CUM, rng.random() * _SITUACAO_CUM[-1])]
        low, high = _UPDATE_DELAY[situacao]
        updated = created + rng.randint(low, high)
        if updated > now:
            updated = created + int(rng.random() * max(0, now - created))
        origem = 1 if rng.random() < 0.03 else 0
        if origem == 1:
            forma = self.formas_by_id[next(f.id for f in self.formas if f.tipo == 0)] if rng.random() < 0.7 else None
        elif rng.random() < 0.02:
            forma = None
        else:
            forma = self._active[bisect.bisect_right(self._active_cum, rng.random() * self._active_cum[-1])]
        frete = rng.choice(forma.formas_frete) if forma and forma.formas_frete else None
        if self._customer_seeds and rng.random() < 0.15:
            customer_seed = rng.choice(self._customer_seeds)  # a returning customer
        else:
            customer_seed = rng.getrandbits(48)
            self._customer_seeds.append(customer_seed)
        seed = rng.getrandbits(48)
        if rng.random() < 0.01:
            cents = None  # an order without items: Tiny lists its valor as ""
            freight = 0
        else:
            freight = 0 if (forma is None or forma.tipo == 0 or rng.random() < 0.3) else rng.randint(990, 5990)
            cents = sum(i.cents * i.quantidade for i in make_items(seed)) + freight
        if origem == 0 and rng.random() < 0.8:
            ecommerce = rng.choices(range(len(brazil.ECOMMERCES)), weights=_ECOMMERCE_WEIGHTS)[0]
            ecommerce_number = _ecommerce_number(rng, ecommerce, created)
        else:
            ecommerce, ecommerce_number = None, None
        quirks = Quirk.NONE
        for flag, chance in _QUIRK_CHANCES:
            if rng.random() < chance:
                quirks |= flag
        # Tiny lists `valor` as "" for some orders, open ones above all but approved and shipped
        # ones too: about 2.5 % of all orders (the detail's valorTotalPedido has the total). The
        # second draw comes from the order's seed, so the generator's stream stays the same.
        if situacao in (0, 3, 8) and rng.random() < 0.1:
            quirks |= Quirk.VALOR_EMPTY
        elif seed % 200 == 0:
            quirks |= Quirk.VALOR_EMPTY
        if quirks & Quirk.CLIENTE_NULL:
            quirks &= ~Quirk.CLIENTE_ABSENT
        if quirks & Quirk.TRANSPORTADOR_NULL:
            quirks &= ~Quirk.TRANSPORTADOR_ABSENT
        order = Order(
            id=self._next_order_id, numero=self._next_numero, seed=seed, customer_seed=customer_seed,
            situacao=situacao, created=created, updated=updated, forma=forma, frete=frete, tracking_code=None,
            cents=cents, freight_cents=freight, ecommerce=ecommerce, ecommerce_number=ecommerce_number,
            origem=origem, quirks=quirks,
        )
        invoice_situacao = self._invoice_situacao(situacao)
        if invoice_situacao is not None:
            emitted = created + int(rng.random() * max(0, min(2 * DAY, updated - created)))
            order.invoice = self._new_invoice(order, invoice_situacao, emitted, updated)
        if forma is not None and rng.random() < _TRACKING_CHANCE[situacao]:
            code = code_for(forma, frete, rng)
            where = rng.random()
            if order.invoice is not None and where < 0.2:
                order.invoice.tracking_code = code  # only the invoice knows it
            elif order.invoice is not None and where < 0.3:
                order.tracking_code = order.invoice.tracking_code = code
            else:
                order.tracking_code = code
        if self._defects is not None and self._defects.random() < self.malformed_rate:
            order.malformed = self._defect_for(order)
            if order.malformed is Malformed.ACCESS_KEY:
                order.invoice.chave = ids.corrupt_access_key(order.invoice.chave)
            elif order.malformed is Malformed.TRACKING_CODE:
                order.tracking_code = ids.corrupt_s10(order.tracking_code)
        return order

    def _invoice_situacao(self, situacao: int) -> int | None:
        draw = self.rng.random()
        if situacao in INVOICED:
            return 6 if draw < 0.5 else 7 if draw < 0.9 else 2
        if situacao == 4:
            return 1 if draw < 0.3 else 5 if draw < 0.35 else None
        if situacao == 2:
            return 3 if draw < 0.25 else None
        return None

    def _new_invoice(self, order: Order, situacao: int, emitted: int, updated: int) -> Invoice:
        rng = self.rng
        self._next_invoice_id += rng.randint(1, 12)
        model = "65" if order.origem == 1 else "55"
        self._next_nf[model] += 1
        numero = self._next_nf[model]
        chave = self._access_key(model, numero, emitted) if situacao in AUTHORISED_INVOICE or situacao == 3 else None
        return Invoice(
            id=self._next_invoice_id, order_id=order.id, numero=numero, model=model, situacao=situacao,
            chave=chave, emitted=emitted, tracking_code=None, updated=max(updated, emitted),
        )

    def _access_key(self, model: str, numero: int, emitted: int) -> str:
        when = datetime.fromtimestamp(emitted, SAO_PAULO)
        serie = self.serie if model == "55" else self.serie + 1
        return ids.access_key(self.company.endereco.uf, when.year, when.month, self.company.cnpj, model, serie,
                              numero, self.rng.randrange(10**8))

    def _defect_for(self, order: Order) -> Malformed | None:
        """One defect the order can carry, or None when it has nothing to spoil."""
        choices = []
        customer = make_customer(order.customer_seed)
        if customer.document and not order.quirks & (Quirk.CLIENTE_NULL | Quirk.CLIENTE_ABSENT):
            choices.append(Malformed.CPF)
        if order.invoice is not None and order.invoice.chave:
            choices.append(Malformed.ACCESS_KEY)
        shown = not order.quirks & (Quirk.TRANSPORTADOR_NULL | Quirk.TRANSPORTADOR_ABSENT)
        if shown and order.tracking_code and order.tracking_code[-2:] == "BR" and len(order.tracking_code) == 13:
            choices.append(Malformed.TRACKING_CODE)
        return self._defects.choice(choices) if choices and self._defects is not None else None

    def _append(self, order: Order) -> None:
        self._orders.append(order)
        self._orders_by_id[order.id] = order
        if order.invoice is not None:
            self._invoices.append(order.invoice)
            self._invoices_by_id[order.invoice.id] = order.invoice

    # ---- what payloads need ---------------------------------------------------------------
    def customer(self, order: Order) -> Customer:
        return make_customer(order.customer_seed)

    def delivery(self, order: Order) -> Delivery | None:
        """The order's delivery address; None for a point-of-sale (PDV) sale, which ships nothing."""
        return None if order.origem == 1 else make_delivery(order.seed)

    def items(self, order: Order) -> tuple[Item, ...]:
        return () if order.cents is None else make_items(order.seed)

    def serie_for(self, invoice: Invoice) -> str:
        if invoice.model == "55":
            return self.serie_text
        return str(self.serie + 1).zfill(len(self.serie_text))

    # ---- life in Tiny -------------------------------------------------------------------------
    def add_orders(self, count: int, now: float, situacao: int | None = None) -> list[Order]:
        """New orders created now (ids above every existing one), as a shop's sales would add them."""
        self._ensure()
        added = []
        for _ in range(count):
            order = self._new_order(int(now), int(now), situacao)
            order.updated = int(now)
            if order.invoice is not None:
                order.invoice.emitted = order.invoice.updated = int(now)
            self._append(order)
            added.append(order)
        self.revision += 1
        return added

    def set_situacao(self, order: Order, situacao: int, now: float) -> None:
        order.situacao = situacao
        order.updated = int(now)
        self.revision += 1

    def set_tracking(self, order: Order, code: str | None, on_order: bool, on_invoice: bool, now: float) -> None:
        if on_order and order.malformed is Malformed.TRACKING_CODE:
            order.malformed = None  # the spoilt code is gone
        if on_order:
            order.tracking_code = code
        if on_invoice and order.invoice is not None:
            order.invoice.tracking_code = code
            order.invoice.updated = int(now)
        order.updated = int(now)
        self.revision += 1

    def new_tracking_code(self, order: Order) -> str | None:
        if order.forma is None:
            return None
        return code_for(order.forma, order.frete, self.rng)

    def issue_invoice(self, order: Order, now: float, situacao: int = 6) -> Invoice:
        """A new invoice for the order; an older one (cancelled, rejected) stays listed, as in Tiny."""
        self._ensure()
        invoice = self._new_invoice(order, situacao, int(now), int(now))
        if order.malformed is Malformed.ACCESS_KEY:
            order.malformed = None  # the spoilt key belonged to the old invoice
        order.invoice = invoice
        self._invoices.append(invoice)
        self._invoices_by_id[invoice.id] = invoice
        order.updated = int(now)
        self.revision += 1
        return invoice

    def authorise_invoice(self, order: Order, now: float) -> Invoice:
        """SEFAZ authorises the order's pending invoice: it gets its access key, as Tiny shows then."""
        invoice = order.invoice
        if invoice is None or invoice.situacao in AUTHORISED_INVOICE:
            raise ValueError("the order has no invoice waiting for authorisation")
        invoice.situacao = 6
        invoice.emitted = invoice.updated = order.updated = int(now)
        invoice.chave = self._access_key(invoice.model, invoice.numero, int(now))
        if order.malformed is Malformed.ACCESS_KEY:
            order.malformed = None
        self.revision += 1
        return invoice

    def touch(self, order: Order, now: float) -> None:
        order.updated = int(now)
        self.revision += 1

    # ---- state file ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to rebuild this dataset exactly, as JSON-ready data.

        Still-ungenerated orders are saved as their (count, anchor), which regenerates them the same;
        once generated, every order and invoice is saved with the random streams' positions, so later
        orders, invoices and codes come out as they would have. Cached until the next change.
        """
        if self._snapshot is not None and self._snapshot[0] == self.revision:
            return self._snapshot[1]
        data: dict[str, Any] = {
            "seed": self.seed, "malformed_rate": self.malformed_rate, **self._options,
            "cnpj": self.company.cnpj, "formas": [f.id for f in self.formas],  # to detect a changed generator
        }
        with self._generating:
            pending = self._pending
        if pending is not None:
            data["pending"] = list(pending)
        else:
            data.update(
                rng=self.rng.getstate(),
                defects_rng=None if self._defects is None else self._defects.getstate(),
                next={"order_id": self._next_order_id, "numero": self._next_numero,
                      "invoice_id": self._next_invoice_id, "nf": dict(self._next_nf)},
                customer_seeds=list(self._customer_seeds),
                orders=[_order_data(o) for o in self._orders],
                invoices=[attrs.asdict(i) for i in self._invoices],
            )
        self._snapshot = (self.revision, data)
        return data

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Dataset:
        """The dataset a `snapshot()` describes; ValueError when this generator no longer matches it."""
        pending = data.get("pending")
        orders, anchor = pending if pending is not None else (0, 0)
        dataset = cls(data["seed"], orders, anchor, data["malformed_rate"], data["alphanumeric_cnpj"],
                      data["creation_with_time"])
        if dataset.company.cnpj != data["cnpj"] or [f.id for f in dataset.formas] != data["formas"]:
            raise ValueError("the saved dataset was generated by another version of the sandbox")
        if pending is not None:
            return dataset
        dataset.rng.setstate(_random_state(data["rng"]))
        if data["defects_rng"] is not None and dataset._defects is not None:
            dataset._defects.setstate(_random_state(data["defects_rng"]))
        following = data["next"]
        dataset._next_order_id, dataset._next_numero = following["order_id"], following["numero"]
        dataset._next_invoice_id, dataset._next_nf = following["invoice_id"], dict(following["nf"])
        dataset._customer_seeds = list(data["customer_seeds"])
        invoices = [Invoice(**i) for i in data["invoices"]]
        by_id = {i.id: i for i in invoices}
        for item in data["orders"]:
            order = _order_from(dataset, item, by_id)
            dataset._orders.append(order)
            dataset._orders_by_id[order.id] = order
        dataset._invoices = invoices
        dataset._invoices_by_id = by_id
        return dataset


def _order_data(order: Order) -> dict[str, Any]:
    data = attrs.asdict(order, recurse=False)
    data.update(
        forma=None if order.forma is None else order.forma.id,
        frete=None if order.frete is None else order.frete.id,
        invoice=None if order.invoice is None else order.invoice.id,
        malformed=None if order.malformed is None else order.malformed.value,
    )
    return data


def _order_from(dataset: Dataset, data: dict[str, Any], invoices: dict[int, Invoice]) -> Order:
    forma = None if data["forma"] is None else dataset.formas_by_id[data["forma"]]
    frete = None
    if data["frete"] is not None:
        frete = next(f for f in (forma.formas_frete if forma else ()) if f.id == data["frete"])
    return Order(**{
        **data, "forma": forma, "frete": frete,
        "invoice": None if data["invoice"] is None else invoices[data["invoice"]],
        "malformed": None if data["malformed"] is None else Malformed(data["malformed"]),
    })


def _random_state(saved: list[Any]) -> tuple[Any, ...]:
    """JSON turned random.getstate()'s tuples into lists; setstate wants them back."""
    version, internal, gauss = saved
    return version, tuple(internal), gauss
