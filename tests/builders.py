"""Builders of domain objects and wired use cases for unit tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import attrs

from kanglu.application.scheduling import JobHandlers
from kanglu.application.tokens import ConnectionTokens, TokenKeeper, TokensByConnection
from kanglu.application.use_cases.connect_erp import ConnectErp
from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
from kanglu.application.use_cases.import_order import ImportOrder
from kanglu.application.use_cases.poll_orders import PollOrdersByStatus
from kanglu.application.use_cases.refresh_token import RefreshToken
from kanglu.domain.access_keys import AccessKey, access_key_check_digit
from kanglu.domain.carriers import DEFAULT_REGISTRY
from kanglu.domain.customers import Address, CustomerData
from kanglu.domain.documents import Document
from kanglu.domain.money import Money
from kanglu.domain.orders import ErpOrder, Invoice
from kanglu.domain.shipping import ShippingService
from kanglu.domain.situacoes import Situacao
from kanglu.domain.tracking_codes import TrackingCode, s10_check_digit
from tests.fakes import (
    FakeClock,
    FakeErpGateway,
    FakeOAuth,
    FakePollProgress,
    FakeSecretBox,
    FakeStateSigner,
    FakeTokenJournal,
    FakeUnitOfWorkFactory,
)
from tests.strategies import cpf_check_digits

MARGIN = timedelta(minutes=10)
REDIRECT = "http://127.0.0.1:8000/integrations/tiny/callback"


def cpf(seed: int) -> str:
    base = f"{(seed * 7919 + 123456789) % 10**9:09d}"
    if len(set(base)) == 1:
        base = "123456780"
    return base + cpf_check_digits(base)


def s10(serial: int, service: str = "QB") -> TrackingCode:
    digits = f"{serial % 10**8:08d}"
    return TrackingCode.parse(f"{service}{digits}{s10_check_digit(digits)}BR")


def access_key(number: int) -> AccessKey:
    first = f"3526071234567800019955001{number:09d}1{number % 10**8:08d}"
    return AccessKey.parse(first + str(access_key_check_digit(first)))


def customer(seed: int = 1, **changes: Any) -> CustomerData:
    data = CustomerData(
        name=f"Cliente {seed}",
        document=Document.parse(cpf(seed)),
        email=f"cliente{seed}@example.com",
        phone=f"119{seed:08d}",
        address=Address("Rua das Flores", str(seed), None, "Centro", "São Paulo", "SP", "01001000", "Brasil"),
        erp_customer_id=1000 + seed,
    )
    return attrs.evolve(data, **changes)


def erp_order(erp_id: int = 1, situacao: Situacao = Situacao.ENVIADA, **changes: Any) -> ErpOrder:
    order = ErpOrder(
        erp_order_id=erp_id,
        situacao=situacao,
        number=str(10000 + erp_id),
        ecommerce_number=f"MLB-{erp_id}",
        total=Money.parse("199.90"),
        created_at=date(2026, 6, 30),
        customer=customer(erp_id),
        invoice=Invoice(number=str(500 + erp_id), series="1", access_key=access_key(500 + erp_id)),
        shipping=ShippingService(service_id=10, service_name="Correios", freight_name="SEDEX", carrier_name=None),
        tracking_code=s10(erp_id),
    )
    return attrs.evolve(order, **changes)


@attrs.define
class World:
    """Fakes and use cases wired together, as the container wires the real ones."""

    clock: FakeClock = attrs.Factory(FakeClock)
    uow: FakeUnitOfWorkFactory = attrs.Factory(FakeUnitOfWorkFactory)
    progress: FakePollProgress = attrs.Factory(lambda self: FakePollProgress(self.uow), takes_self=True)
    box: FakeSecretBox = attrs.Factory(FakeSecretBox)
    oauth: FakeOAuth = attrs.Factory(FakeOAuth)
    gateway: FakeErpGateway = attrs.Factory(FakeErpGateway)
    # One per process in the container: tokens issued but not stored survive between renewals.
    keeper: TokenKeeper = attrs.Factory(TokenKeeper)
    slept: list[float] = attrs.Factory(list)  # the renewal's pauses (write retries, waits), not waited
    sleep: Callable[[float], None] | None = None  # time.sleep where threads really wait for each other
    journal: FakeTokenJournal = attrs.Factory(FakeTokenJournal)

    @property
    def signer(self) -> FakeStateSigner:
        return FakeStateSigner(self.clock)

    def connect_erp(self) -> ConnectErp:
        return ConnectErp(
            uow=self.uow, clock=self.clock, secret_box=self.box, signer=self.signer, oauth=self.oauth,
            gateway=self.gateway, redirect_uri=REDIRECT, renewal_margin=MARGIN,
        )

    def refresh(self) -> RefreshToken:
        return RefreshToken(uow=self.uow, clock=self.clock, secret_box=self.box, oauth=self.oauth,
                                   renewal_margin=MARGIN, keeper=self.keeper, sleep=self.sleep or self.slept.append,
                                   journal=self.journal)

    def tokens_for(self, connection_id: int) -> ConnectionTokens:
        return TokensByConnection(uow=self.uow, secret_box=self.box, refresh=self.refresh())(connection_id)

    def import_order(self) -> ImportOrder:
        return ImportOrder(uow=self.uow, clock=self.clock, carriers=DEFAULT_REGISTRY)

    def poll(self, **kwargs: Any) -> PollOrdersByStatus:
        """The poll over the world's fakes; any argument may be given instead (another gateway)."""
        options: dict[str, Any] = dict(
            progress=self.progress, uow=self.uow, clock=self.clock, gateway=self.gateway,
            import_order=self.import_order(), carriers=DEFAULT_REGISTRY, secret_box=self.box,
            tokens_for=self.tokens_for, interval=timedelta(minutes=2), backfill=timedelta(days=30),
            rng=random.Random(21),
        )
        return PollOrdersByStatus(**(options | kwargs))

    def handlers(self, deliver: Callable[[], DeliverTrackingRequests] | None = None) -> JobHandlers:
        """The job runner's handlers over the world's fakes, wired like the container's."""
        from tests.fakes import FakeTrackingService

        return JobHandlers(
            clock=self.clock, refresh=self.refresh, poll=self.poll, poll_jobs=self.progress,
            deliver=deliver or (lambda: DeliverTrackingRequests(uow=self.uow, clock=self.clock,
                                                                tracking=FakeTrackingService())),
        )


def connected_world(merchant_id: int = 7) -> tuple[World, int]:
    """A world where a merchant's connection went through the whole OAuth dance."""
    from urllib.parse import parse_qs, urlsplit

    from kanglu.application.commands import BeginConnectErpCommand, CompleteConnectErpCommand, SaveErpCredentialsCommand
    from kanglu.application.use_cases.save_erp_credentials import SaveErpCredentials as Save
    from kanglu.domain.secrets import Secret

    world = World()
    Save(uow=world.uow, clock=world.clock, secret_box=world.box)(
        SaveErpCredentialsCommand(merchant_id, "tiny-api-abc-1", Secret("s3cr3t"), "https://accounts.tiny.com.br/convite/x")
    )
    url = world.connect_erp().begin(BeginConnectErpCommand(merchant_id))
    state = parse_qs(urlsplit(url).query)["state"][0]
    connection = world.connect_erp().complete(CompleteConnectErpCommand(state=state, code=world.oauth.issue_code()))
    assert connection.id is not None
    return world, connection.id


def worker_for(world: World, tracking=None, **kwargs: Any):  # type: ignore[no-untyped-def]
    """A Worker over the world's fakes, wired like the container wires the real one."""
    from kanglu.application.scheduling import EnsureJobs
    from kanglu.application.use_cases.deliver_tracking import DeliverTrackingRequests
    from kanglu.entrypoints.worker import Worker
    from tests.fakes import FakeTrackingService

    tracking = tracking or FakeTrackingService()
    handlers = world.handlers(lambda: DeliverTrackingRequests(uow=world.uow, clock=world.clock, tracking=tracking))
    ensure = EnsureJobs(uow=world.uow, clock=world.clock, renewal_margin=MARGIN)
    return Worker(uow=world.uow, clock=world.clock, handlers=handlers, ensure_jobs=ensure, **kwargs), tracking
