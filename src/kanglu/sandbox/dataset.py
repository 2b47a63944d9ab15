"""A deterministic, realistic dataset for one sandbox account, and the changes life makes to it.

Everything is drawn from `random.Random` seeded by the account's seed, so a seed and an anchor
time always give the same orders (generator.py draws them). Only the facts an order keeps (ids,
situação, dates, shipping, tracking code, invoice) are stored; the customer and the items are
drawn again from per-order seeds when a payload is rendered (draws.py), which keeps a
10,000-order account a few megabytes.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import attrs

from kanglu.sandbox.catalog import FormaEnvio, build_catalogue
from kanglu.sandbox.clock import DAY
from kanglu.sandbox.draws import Delivery, draw_company, make_customer, make_delivery, make_items
from kanglu.sandbox.generator import OrderGenerator
from kanglu.sandbox.model import AUTHORISED_INVOICE, Customer, Invoice, Item, Malformed, Order

SPREAD_DAYS = 60


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
        rng = random.Random(f"kanglu-sandbox:{seed}")
        self.malformed_rate = malformed_rate
        # Defects draw from their own stream, so a malformed rate never changes the other orders.
        defects = random.Random(f"kanglu-sandbox:{seed}:malformed") if malformed_rate else None
        if alphanumeric_cnpj is None:
            alphanumeric_cnpj = rng.random() < 0.2
        self.company = draw_company(rng, alphanumeric_cnpj)
        # Accounts differ in how the listing dates an order: "2025-11-25" or "2025-11-25 10:31:12".
        self.creation_with_time = rng.random() < 0.3 if creation_with_time is None else creation_with_time
        self.formas: tuple[FormaEnvio, ...] = build_catalogue(rng.randrange(100_000, 900_000) * 10, rng)
        self.formas_by_id = {f.id: f for f in self.formas}
        self.serie_text = rng.choice(("1", "1", "01", "001"))
        self.serie = int(self.serie_text)
        self._orders: list[Order] = []
        self._orders_by_id: dict[int, Order] = {}
        self._invoices: list[Invoice] = []
        self._invoices_by_id: dict[int, Invoice] = {}
        self._generator = OrderGenerator(rng, defects, malformed_rate, self.company, self.formas, self.serie)
        self._pending: tuple[int, int] | None = (orders, int(anchor))
        self._generating = threading.Lock()

    def _ensure(self) -> None:
        if self._pending is None:
            return
        with self._generating:
            if self._pending is None:
                return
            orders, anchor = self._pending
            for when in self._generator.creation_times(orders, anchor - SPREAD_DAYS * DAY, SPREAD_DAYS * DAY):
                self._append(self._generator.new_order(when, anchor))
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
            order = self._generator.new_order(int(now), int(now), situacao)
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
        return self._generator.tracking_code(order)

    def issue_invoice(self, order: Order, now: float, situacao: int = 6) -> Invoice:
        """A new invoice for the order; an older one (cancelled, rejected) stays listed, as in Tiny."""
        self._ensure()
        invoice = self._generator.new_invoice(order, situacao, int(now), int(now))
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
        invoice.chave = self._generator.access_key(invoice.model, invoice.numero, int(now))
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
                self._generator.state(),
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
        dataset._generator.restore(data)
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
