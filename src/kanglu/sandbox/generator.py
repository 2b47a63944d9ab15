"""New orders and invoices for a sandbox account, drawn from its random stream.

Every draw comes from the account's `random.Random`, in a fixed order, so a seed always gives
the same orders: a step below that drew one number more or fewer would change every order after
it. Defects draw from a stream of their own, so a malformed rate never changes the other orders.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kanglu.sandbox import brazil
from kanglu.sandbox import identifiers as ids
from kanglu.sandbox.catalog import FormaEnvio, FormaFrete, code_for
from kanglu.sandbox.clock import DAY, HOUR, SAO_PAULO
from kanglu.sandbox.draws import make_customer, make_items
from kanglu.sandbox.model import AUTHORISED_INVOICE, Company, Invoice, Malformed, Order, Quirk

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


class OrderGenerator:
    """Draws an account's next order or invoice, with the ids and numbers Tiny would give them.

    Built right after the company, the catalogue and the series were drawn from `rng`: it draws
    its first ids from there on.
    """

    def __init__(self, rng: random.Random, defects: random.Random | None, malformed_rate: float, company: Company,
                 formas: Sequence[FormaEnvio], serie: int) -> None:
        self.rng = rng
        self._defects = defects
        self._malformed_rate = malformed_rate
        self._company = company
        self._serie = serie
        self._formas = formas
        self._formas_by_id = {f.id: f for f in formas}
        self._active = [f for f in formas if f.weight > 0]
        self._active_cum = list(itertools.accumulate(f.weight for f in self._active))
        self._next_order_id = rng.randrange(700_000_000, 900_000_000)
        self._next_numero = rng.randrange(1_000, 40_000)
        self._next_invoice_id = rng.randrange(500_000_000, 600_000_000)
        self._next_nf = {"55": rng.randrange(1_000, 30_000), "65": rng.randrange(1, 5_000)}
        self._customer_seeds: list[int] = []

    def creation_times(self, count: int, start: int, seconds: int) -> list[int]:
        """`count` creation instants spread at random over `seconds` from `start`, in order."""
        return sorted(start + int(self.rng.random() * seconds) for _ in range(count))

    # -- an order, draw by draw ------------------------------------------------------------

    def new_order(self, created: int, now: int, situacao: int | None = None) -> Order:
        rng = self.rng
        self._next_order_id += rng.randint(1, 25)
        self._next_numero += 1
        if situacao is None:
            situacao = _SITUACOES[bisect.bisect_right(_SITUACAO_CUM, rng.random() * _SITUACAO_CUM[-1])]
        updated = self._updated(situacao, created, now)
        origem, forma = self._origem_and_forma()
        frete = rng.choice(forma.formas_frete) if forma and forma.formas_frete else None
        customer_seed = self._customer_seed()
        seed = rng.getrandbits(48)
        cents, freight = self._value(forma, seed)
        ecommerce, ecommerce_number = self._ecommerce(origem, created)
        order = Order(
            id=self._next_order_id, numero=self._next_numero, seed=seed, customer_seed=customer_seed,
            situacao=situacao, created=created, updated=updated, forma=forma, frete=frete, tracking_code=None,
            cents=cents, freight_cents=freight, ecommerce=ecommerce, ecommerce_number=ecommerce_number,
            origem=origem, quirks=self._quirks(situacao, seed),
        )
        self._add_invoice(order, created, updated)
        self._add_tracking(order, forma, frete)
        self._maybe_spoil(order)
        return order

    def _updated(self, situacao: int, created: int, now: int) -> int:
        low, high = _UPDATE_DELAY[situacao]
        updated = created + self.rng.randint(low, high)
        if updated > now:
            updated = created + int(self.rng.random() * max(0, now - created))
        return updated

    def _origem_and_forma(self) -> tuple[int, FormaEnvio | None]:
        """A point-of-sale (PDV) sale (3 %), mostly without shipping; else a sale with a weighted forma."""
        rng = self.rng
        if rng.random() < 0.03:
            shipped = rng.random() < 0.7
            return 1, self._formas_by_id[next(f.id for f in self._formas if f.tipo == 0)] if shipped else None
        if rng.random() < 0.02:
            return 0, None
        return 0, self._active[bisect.bisect_right(self._active_cum, rng.random() * self._active_cum[-1])]

    def _customer_seed(self) -> int:
        rng = self.rng
        if self._customer_seeds and rng.random() < 0.15:
            return rng.choice(self._customer_seeds)  # a returning customer
        seed = rng.getrandbits(48)
        self._customer_seeds.append(seed)
        return seed

    def _value(self, forma: FormaEnvio | None, seed: int) -> tuple[int | None, int]:
        """The total in cents (None for an order without items: Tiny lists its valor as "") and the freight."""
        rng = self.rng
        if rng.random() < 0.01:
            return None, 0
        freight = 0 if (forma is None or forma.tipo == 0 or rng.random() < 0.3) else rng.randint(990, 5990)
        return sum(i.cents * i.quantidade for i in make_items(seed)) + freight, freight

    def _ecommerce(self, origem: int, created: int) -> tuple[int | None, str | None]:
        rng = self.rng
        if origem == 0 and rng.random() < 0.8:
            ecommerce = rng.choices(range(len(brazil.ECOMMERCES)), weights=_ECOMMERCE_WEIGHTS)[0]
            return ecommerce, _ecommerce_number(rng, ecommerce, created)
        return None, None

    def _quirks(self, situacao: int, seed: int) -> int:
        quirks = Quirk.NONE
        for flag, chance in _QUIRK_CHANCES:
            if self.rng.random() < chance:
                quirks |= flag
        # Tiny lists `valor` as "" for some orders, open ones above all but approved and shipped
        # ones too: about 2.5 % of all orders (the detail's valorTotalPedido has the total). The
        # second draw comes from the order's seed, so the generator's stream stays the same.
        if situacao in (0, 3, 8) and self.rng.random() < 0.1:
            quirks |= Quirk.VALOR_EMPTY
        elif seed % 200 == 0:
            quirks |= Quirk.VALOR_EMPTY
        if quirks & Quirk.CLIENTE_NULL:
            quirks &= ~Quirk.CLIENTE_ABSENT
        if quirks & Quirk.TRANSPORTADOR_NULL:
            quirks &= ~Quirk.TRANSPORTADOR_ABSENT
        return quirks

    def _add_invoice(self, order: Order, created: int, updated: int) -> None:
        invoice_situacao = self._invoice_situacao(order.situacao)
        if invoice_situacao is not None:
            emitted = created + int(self.rng.random() * max(0, min(2 * DAY, updated - created)))
            order.invoice = self.new_invoice(order, invoice_situacao, emitted, updated)

    def _invoice_situacao(self, situacao: int) -> int | None:
        draw = self.rng.random()
        if situacao in INVOICED:
            return 6 if draw < 0.5 else 7 if draw < 0.9 else 2
        if situacao == 4:
            return 1 if draw < 0.3 else 5 if draw < 0.35 else None
        if situacao == 2:
            return 3 if draw < 0.25 else None
        return None

    def _add_tracking(self, order: Order, forma: FormaEnvio | None, frete: FormaFrete | None) -> None:
        """A tracking code for most shipped orders: on the order, on its invoice only, or on both."""
        rng = self.rng
        if forma is None or rng.random() >= _TRACKING_CHANCE[order.situacao]:
            return
        code = code_for(forma, frete, rng)
        where = rng.random()
        if order.invoice is not None and where < 0.2:
            order.invoice.tracking_code = code  # only the invoice knows it
        elif order.invoice is not None and where < 0.3:
            order.tracking_code = order.invoice.tracking_code = code
        else:
            order.tracking_code = code

    def _maybe_spoil(self, order: Order) -> None:
        """One defect, at the malformed rate, drawn from the defects' own stream."""
        if self._defects is None or self._defects.random() >= self._malformed_rate:
            return
        order.malformed = self._defect_for(order)
        if order.malformed is Malformed.ACCESS_KEY and order.invoice is not None and order.invoice.chave:
            order.invoice.chave = ids.corrupt_access_key(order.invoice.chave)
        elif order.malformed is Malformed.TRACKING_CODE and order.tracking_code:
            order.tracking_code = ids.corrupt_s10(order.tracking_code)

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

    # -- invoices and codes ------------------------------------------------------------------

    def new_invoice(self, order: Order, situacao: int, emitted: int, updated: int) -> Invoice:
        rng = self.rng
        self._next_invoice_id += rng.randint(1, 12)
        model = "65" if order.origem == 1 else "55"
        self._next_nf[model] += 1
        numero = self._next_nf[model]
        chave = self.access_key(model, numero, emitted) if situacao in AUTHORISED_INVOICE or situacao == 3 else None
        return Invoice(
            id=self._next_invoice_id, order_id=order.id, numero=numero, model=model, situacao=situacao,
            chave=chave, emitted=emitted, tracking_code=None, updated=max(updated, emitted),
        )

    def access_key(self, model: str, numero: int, emitted: int) -> str:
        when = datetime.fromtimestamp(emitted, SAO_PAULO)
        serie = self._serie if model == "55" else self._serie + 1
        return ids.access_key(self._company.endereco.uf, when.year, when.month, self._company.cnpj, model, serie,
                              numero, self.rng.randrange(10**8))

    def tracking_code(self, order: Order) -> str | None:
        if order.forma is None:
            return None
        return code_for(order.forma, order.frete, self.rng)

    # -- state file --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The streams' positions and the next ids, JSON-ready: later draws come out the same."""
        return {
            "rng": self.rng.getstate(),
            "defects_rng": None if self._defects is None else self._defects.getstate(),
            "next": {"order_id": self._next_order_id, "numero": self._next_numero,
                     "invoice_id": self._next_invoice_id, "nf": dict(self._next_nf)},
            "customer_seeds": list(self._customer_seeds),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Back to where a `state()` was taken (read back from JSON)."""
        self.rng.setstate(_random_state(data["rng"]))
        if data["defects_rng"] is not None and self._defects is not None:
            self._defects.setstate(_random_state(data["defects_rng"]))
        following = data["next"]
        self._next_order_id, self._next_numero = following["order_id"], following["numero"]
        self._next_invoice_id, self._next_nf = following["invoice_id"], dict(following["nf"])
        self._customer_seeds = list(data["customer_seeds"])


def _random_state(saved: list[Any]) -> tuple[Any, ...]:
    """JSON turned random.getstate()'s tuples into lists; setstate wants them back."""
    version, internal, gauss = saved
    return version, tuple(internal), gauss
