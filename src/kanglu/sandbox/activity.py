"""Simulated life in Tiny: in accounts flagged `simulate`, orders arrive and move through their situações.

Each tick, an account may get one to three new orders (Aberta or Aprovada) and a few of its orders
take one realistic step: Aberta → Aprovada → Preparando Envio → Faturada (an authorised invoice with
its access key) → Pronto Envio (a tracking code in the carrier's shape, on the order, the invoice or
both) → Enviada → Entregue; now and then an order is cancelled before it is invoiced, or comes back
Não Entregue. The dice are the account's own, seeded: the same seed and number of ticks replay the
same story. Every change goes through the dataset, so it bumps dataAtualizacao as Tiny does.
"""

from __future__ import annotations

import random

import attrs

from kanglu.sandbox.accounts import Account, SandboxState
from kanglu.sandbox.model import AUTHORISED_INVOICE, Order

# Situações: 0 Aberta, 3 Aprovada, 4 Preparando Envio, 1 Faturada, 7 Pronto Envio, 5 Enviada,
# 6 Entregue, 2 Cancelada, 9 Não Entregue (8 Dados Incompletos waits for a human).
NEXT = {0: 3, 3: 4, 4: 1, 1: 7, 7: 5, 5: 6}
CANCELLABLE = frozenset({0, 3, 4})
NEW_ORDERS_CHANCE = 0.2  # with 1-3 orders, about one order every 2.5 ticks: the moves keep up
CANCEL_CHANCE = 0.04
UNDELIVERED_CHANCE = 0.05
RECENT = 25  # the shop works mostly on its latest orders
RECENT_CHANCE = 0.7


@attrs.frozen
class Change:
    """What one tick did to one order: `before` is None for a new order."""

    account_id: str
    order_id: int
    before: int | None
    situacao: int

    def as_json(self) -> dict[str, object]:
        return attrs.asdict(self)


class Activity:
    """Moves life forward one tick at a time; the server's background thread calls `tick()`."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def tick(self) -> list[Change]:
        changes: list[Change] = []
        for account in self.state.all_accounts():
            if account.settings.simulate:
                with account.lock:  # API reads hold the same lock: they see an order before or after a step
                    changes += self._live(account)
        return changes

    def _live(self, account: Account) -> list[Change]:
        rng, dataset, now = account.activity_rng, account.dataset, self.state.clock.now()
        candidates = [o for o in dataset.orders if o.situacao in NEXT]  # before new ones: they wait a tick
        changes = []
        if rng.random() < NEW_ORDERS_CHANCE:
            for _ in range(rng.randint(1, 3)):
                (order,) = dataset.add_orders(1, now, rng.choice((0, 3)))
                changes.append(Change(account.id, order.id, None, order.situacao))
        moved: set[int] = set()
        for _ in range(rng.randint(1, 4)):  # six steps from Aberta to Entregue
            if not candidates:
                break
            pool = candidates[-RECENT:] if rng.random() < RECENT_CHANCE else candidates
            order = rng.choice(pool)
            if order.id in moved:
                continue
            moved.add(order.id)
            before = order.situacao
            self._step(account, order, rng, now)
            changes.append(Change(account.id, order.id, before, order.situacao))
        return changes

    @staticmethod
    def _step(account: Account, order: Order, rng: random.Random, now: float) -> None:
        dataset = account.dataset
        situacao = order.situacao
        if situacao in CANCELLABLE and rng.random() < CANCEL_CHANCE:
            dataset.set_situacao(order, 2, now)
            return
        if situacao == 5 and rng.random() < UNDELIVERED_CHANCE:
            dataset.set_situacao(order, 9, now)
            return
        if situacao == 4:  # invoicing: SEFAZ authorises the invoice, which then has its access key
            invoice = order.invoice
            if invoice is None or invoice.situacao in (3, 5):
                dataset.issue_invoice(order, now, 6)
            elif invoice.situacao not in AUTHORISED_INVOICE:
                dataset.authorise_invoice(order, now)
        elif situacao in (1, 7) and not order.tracking_code and not (order.invoice and order.invoice.tracking_code):
            code = dataset.new_tracking_code(order)  # None for services without codes (pickup)
            if code is not None:
                where = rng.random()
                on_invoice = order.invoice is not None and where >= 0.6
                dataset.set_tracking(order, code, not on_invoice or where >= 0.8, on_invoice, now)
        dataset.set_situacao(order, NEXT[situacao], now)
