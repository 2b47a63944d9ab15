"""The update filter's contract: whatever `dataAtualizacao` means, no changed order is missed.

Tiny does not document the filter (TINY_API.md). The sandbox plays each reading it may have:
changed on or after that day, that day only, on or after that moment, and under the two day
meanings a time part ignored or refused. Under each, PollOrdersByStatus with the real Tiny
adapter, over HTTP, runs a first import over the backfill, polls across midnight while orders
change, and catches up after three days of downtime; each time every order changed in the
window must be in Kanglu with its latest situação. The sandbox's clock stands still and is
moved by the test, never waited for.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kanglu.adapters.tiny import RateLimitPacer, TinyGateway
from kanglu.application.commands import BeginConnectErpCommand, CompleteConnectErpCommand, PollOrdersByStatusCommand, SaveErpCredentialsCommand
from kanglu.application.use_cases.poll_orders import PollOutcome
from kanglu.application.use_cases.save_erp_credentials import SaveErpCredentials as Save
from kanglu.domain.secrets import Secret
from kanglu.domain.situacoes import Action, Situacao, StatusMapping
from kanglu.sandbox import SandboxClock, SandboxServer
from kanglu.sandbox.accounts import Account
from kanglu.sandbox.clock import SAO_PAULO
from tests.builders import World
from tests.integration.tiny.conftest import FAST_RETRIES

# 2026-11-18 00:53:20 UTC: 21:53:20 on 17 November in São Paulo.
START = 1_795_000_400
MEANINGS = [
    pytest.param("since_day", "ignore", id="since_day"),
    pytest.param("since_day", "reject", id="since_day-time_refused"),
    pytest.param("day_only", "ignore", id="day_only"),
    pytest.param("day_only", "reject", id="day_only-time_refused"),
    pytest.param("since_moment", "ignore", id="since_moment"),
]
_seeds = itertools.count(4700)


class SandboxTime:
    """Kanglu's clock, read from the sandbox's: both sides agree on "now" to the second."""

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._clock.advance((delta if delta is not None else timedelta(**kwargs)).total_seconds())
        return self.now()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(orders=0, seed=1, clock=SandboxClock(start=START), default_account=False,
                       settings={"rate_limit": 0}) as server:
        yield server


@pytest.fixture(scope="module")
def transport() -> Iterator[httpx.HTTPTransport]:
    with httpx.HTTPTransport() as pool:
        yield pool


class Merchant:
    """One sandbox account under one meaning, and Kanglu's connection to it."""

    def __init__(self, sandbox: SandboxServer, transport: httpx.HTTPTransport, meaning: str, time_reaction: str) -> None:
        self.sandbox = sandbox
        self.time = SandboxTime(sandbox.clock)
        self.account: Account = sandbox.create_account(
            orders=200, seed=next(_seeds),
            settings={"update_filter": meaning, "update_filter_time": time_reaction, "rate_limit": 0,
                      "access_lifetime": 30 * 86_400, "refresh_lifetime": 30 * 86_400},
        )
        self.gateway = TinyGateway(transport, sandbox.api_url, policy=FAST_RETRIES,
                                   pacer=RateLimitPacer(burst_interval=0.0, fallback_interval=0.0))
        self.world = World(clock=self.time)  # type: ignore[arg-type]
        self.calls: list[dict[str, int]] = []
        self.connection_id = self._connect()

    def _connect(self) -> int:
        world = self.world
        Save(uow=world.uow, clock=world.clock, secret_box=world.box)(
            SaveErpCredentialsCommand(7, "tiny-api-abc-1", Secret("s3cr3t"), "https://accounts.tiny.com.br/convite/x"))
        url = world.connect_erp().begin(BeginConnectErpCommand(7))
        state = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))["state"]
        connection = world.connect_erp().complete(CompleteConnectErpCommand(state=state, code=world.oauth.issue_code()))
        assert connection.id is not None
        # From here on Kanglu talks to the sandbox, with a token the sandbox issued.
        world.gateway = self.gateway  # type: ignore[assignment]
        token = self.sandbox.issue_tokens(self.account)["access_token"]
        with world.uow() as uow:
            stored = uow.connections.get(connection.id)
            assert stored is not None
            stored.access_token = world.box.seal(Secret(str(token)))
            stored.access_expires_at = stored.refresh_expires_at = self.time.now() + timedelta(days=30)
            uow.status_mappings.save(connection.id, StatusMapping.default().with_actions(
                {s: Action.IMPORT for s in Situacao}))  # every situação, so every changed order must show
            uow.commit()
        return connection.id

    def poll(self) -> None:
        result = self.world.poll()(PollOrdersByStatusCommand(self.connection_id))
        assert result.outcome is PollOutcome.COMPLETED, result.reason
        self.calls.append(self.gateway.call_counts().get("GET /pedidos", {}))

    def imported(self) -> dict[int, int]:
        return {o.erp_order_id: int(o.situacao) for o in self.world.uow.read().orders.all()}

    def changed_since(self, instant: datetime) -> dict[int, int]:
        """The truth: every order changed at or after `instant`, with its situação now (point-of-sale
        sales aside: they are not imported by default)."""
        with self.account.lock:
            return {o.id: o.situacao for o in self.account.dataset.orders
                    if o.updated >= instant.timestamp() and o.origem == 0}

    def change(self, count: int, situacao: int, new: int = 0) -> None:
        """Life in Tiny, now: `count` orders move to `situacao` and `new` orders arrive."""
        now = self.sandbox.clock.now()
        with self.account.lock:
            dataset = self.account.dataset
            movable = [o for o in dataset.orders if o.situacao != situacao]
            for order in movable[:: max(1, len(movable) // count)][:count]:
                dataset.set_situacao(order, situacao, now)
            if new:
                dataset.add_orders(new, now)

    def sao_paulo(self) -> datetime:
        return self.time.now().astimezone(SAO_PAULO)

    def until_sao_paulo(self, hour: int, minute: int, days: int = 0) -> None:
        """Move both clocks to that São Paulo time, `days` days later."""
        target = (self.sao_paulo() + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        self.time.advance(target - self.sao_paulo())

    def assert_nothing_missed(self, since: datetime) -> None:
        expected = self.changed_since(since)
        imported = self.imported()
        missing = sorted(set(expected) - set(imported))
        stale = sorted(i for i in expected if i in imported and imported[i] != expected[i])
        assert not missing and not stale, f"missing {missing}, stale situação {stale}"


@pytest.mark.parametrize(("meaning", "time_reaction"), MEANINGS)
def test_first_import_midnight_and_a_three_day_catch_up_miss_nothing(
    sandbox: SandboxServer, transport: httpx.HTTPTransport, meaning: str, time_reaction: str
) -> None:
    merchant = Merchant(sandbox, transport, meaning, time_reaction)
    merchant.until_sao_paulo(22, 40)

    # The first import: everything changed over the backfill (30 days).
    started = merchant.time.now()
    merchant.poll()
    merchant.assert_nothing_missed(started - timedelta(days=30))

    # Steady polls across midnight, with orders changing between them, the last before
    # midnight landing after the last poll of the day.
    checkpoint = merchant.time.now()
    for hour, minute, days, situacao in ((23, 50, 0, 7), (23, 58, 0, 5), (0, 3, 1, 6), (0, 9, 0, 2)):
        merchant.until_sao_paulo(hour, minute, days)
        merchant.change(4, situacao, new=1)
        merchant.time.advance(minutes=1)
        if (hour, minute) != (23, 58):  # the change at 23:58 is first polled after midnight
            merchant.poll()
    merchant.poll()
    merchant.assert_nothing_missed(checkpoint)

    # Three days down: orders change every day, then one poll catches up.
    checkpoint = merchant.time.now()
    for days, (hour, situacao) in enumerate(((10, 1), (15, 7), (9, 5)), start=1):
        merchant.until_sao_paulo(hour, 0, 1)
        merchant.change(5, situacao, new=2)
    merchant.time.advance(hours=1)
    merchant.poll()
    merchant.assert_nothing_missed(checkpoint)

    # What it cost in listings of GET /pedidos (the 400s of a refused time part included: one).
    listings = [sum(calls.values()) for calls in merchant.calls]
    first_import, catch_up = listings[0], listings[-1] - listings[-2]
    refused = 1 if time_reaction == "reject" and meaning != "since_moment" else 0
    if meaning == "day_only":  # every day of the window is asked
        assert first_import >= 31 and catch_up == 4
    else:  # an order listed under two past days ends the walk: the first day's pages and one more
        assert first_import <= 4 + refused and catch_up == 2
