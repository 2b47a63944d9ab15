"""The sandbox's people and goods, each drawn from a seed: customers, the company, delivery
addresses and the items of an order.

A customer, a delivery address and the items are drawn from the order's own seeds whenever a
payload is rendered, never stored: the same seed always gives the same person and goods, and a
10,000-order account stays a few megabytes.
"""

from __future__ import annotations

import functools
import random
import re
import unicodedata

import attrs

from kanglu.sandbox import brazil
from kanglu.sandbox import identifiers as ids
from kanglu.sandbox.model import Address, Company, Customer, Item


def slug(text: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_only.lower())


def draw_city(rng: random.Random) -> tuple[str, str, int, int]:
    return rng.choices(brazil.CITIES, weights=brazil.CITY_WEIGHTS)[0]


def draw_address(rng: random.Random, city: tuple[str, str, int, int] | None = None) -> Address:
    name, uf, low, high = city or draw_city(rng)
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


def draw_phone(rng: random.Random, uf: str, mobile: bool) -> str:
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
    city = draw_city(rng)
    address = draw_address(rng, city)
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
        email_user = f"{slug(first)}.{slug(surnames[-1])}{rng.randint(1, 999)}"
    elif kind < 0.98:
        tipo = "J"
        surname = rng.choice(brazil.SURNAMES)
        line = rng.choice(brazil.PRODUCT_LINES)
        nome = f"{surname} {rng.choice(brazil.COMPANY_SUFFIXES)} {line} {rng.choice(('Ltda', 'ME', 'EIRELI', 'S.A.'))}"
        fantasia = f"{surname} {line}"
        document = ids.cnpj(rng, alphanumeric=rng.random() < 0.25)
        ie = "ISENTO" if rng.random() < 0.3 else ids.digits(rng, 12)
        rg = ""
        email_user = f"compras.{slug(surname)}"
    else:
        tipo = "E"  # estrangeiro: no CPF/CNPJ at all
        first = rng.choice(("John", "Marie", "Luca", "Sofia", "Hiroshi"))
        nome = f"{first} {rng.choice(('Smith', 'Dubois', 'Rossi', 'Müller', 'Tanaka'))}"
        document = ""
        fantasia = ""
        ie = ""
        rg = ""
        email_user = slug(nome)
    phones = rng.random()
    if phones < 0.5:
        celular, telefone = draw_phone(rng, uf, True), ""
    elif phones < 0.75:
        celular, telefone = "", draw_phone(rng, uf, rng.random() < 0.5)  # celular empty, telefone present
    elif phones < 0.95:
        celular, telefone = draw_phone(rng, uf, True), draw_phone(rng, uf, False)
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
        return Delivery("gift", nome, draw_address(rng))
    if draw < DELIVERY_ELSEWHERE:
        work = draw_address(rng)
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


def draw_company(rng: random.Random, alphanumeric: bool) -> Company:
    """The merchant's company, as GET /info shows it."""
    surname = rng.choice(brazil.SURNAMES)
    line = rng.choice(brazil.PRODUCT_LINES)
    fantasia = f"{surname} {line}"
    address = draw_address(rng)
    return Company(
        razao_social=f"{surname} {rng.choice(brazil.COMPANY_SUFFIXES)} {line} Ltda",
        fantasia=fantasia,
        cnpj=ids.cnpj(rng, alphanumeric=alphanumeric),
        endereco=address,
        fone=draw_phone(rng, address.uf, False),
        email=f"contato@{slug(fantasia)}.com.br",
        inscricao_estadual=ids.digits(rng, 12),
        regime_tributario=rng.choice((1, 1, 1, 3)),
    )
