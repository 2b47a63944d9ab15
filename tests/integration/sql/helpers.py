"""The use cases wired on the real unit of work (tests/builders.World with SQL in place of
the fake unit of work), and shortcuts to set a database up."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import attrs

from kanglu.adapters.sql.poll_progress import SqlPollProgress
from kanglu.adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from kanglu.application.commands import (
    BeginConnectErpCommand,
    CompleteConnectErpCommand,
    CreateMerchantCommand,
    ImportOrderCommand,
    SaveErpCredentialsCommand,
)
from kanglu.application.importing import ImportReport
from kanglu.application.use_cases.create_merchant import CreateMerchant as CreateMerchantUseCase
from kanglu.application.use_cases.save_erp_credentials import SaveErpCredentials as SaveCredentials
from kanglu.domain.orders import ErpOrder, MalformedOrder, Order
from kanglu.domain.secrets import Secret
from kanglu.domain.tracking import OutboxMessage
from tests.builders import World
from tests.fakes import FakePasswordHasher

CLIENT_SECRET = "s3cr3t-do-cliente-tiny"
INVITE = "https://accounts.tiny.com.br/convite/x"


@attrs.define
class SqlWorld(World):
    """builders.World, on a real database: build it with `SqlWorld(uow=SqlUnitOfWorkFactory(engine))`."""

    progress: SqlPollProgress = attrs.Factory(lambda self: SqlPollProgress(self.uow.engine), takes_self=True)  # type: ignore[assignment]

    def merchant(self, email: str = "loja@example.com") -> int:
        created = CreateMerchantUseCase(uow=self.uow, clock=self.clock, passwords=FakePasswordHasher())(
            CreateMerchantCommand("Loja Exemplo", email, None)
        )
        assert created.merchant.id is not None
        return created.merchant.id

    def save_credentials(self, merchant_id: int, secret: str = CLIENT_SECRET) -> int:
        connection = SaveCredentials(uow=self.uow, clock=self.clock, secret_box=self.box)(
            SaveErpCredentialsCommand(merchant_id, "tiny-api-abc-1", Secret(secret), INVITE)
        )
        assert connection.id is not None
        return connection.id

    def connect(self, email: str = "loja@example.com") -> tuple[int, int]:
        """A merchant whose connection went through the whole OAuth dance: (merchant, connection)."""
        merchant_id = self.merchant(email)
        self.save_credentials(merchant_id)
        url = self.connect_erp().begin(BeginConnectErpCommand(merchant_id))
        state = parse_qs(urlsplit(url).query)["state"][0]
        connection = self.connect_erp().complete(CompleteConnectErpCommand(state=state, code=self.oauth.issue_code()))
        assert connection.id is not None
        return merchant_id, connection.id

    def import_orders(self, connection_id: int, *items: ErpOrder | MalformedOrder) -> ImportReport:
        return self.import_order()(
            ImportOrderCommand(connection_id, list(items))
        )

    def orders(self, connection_id: int, *erp_ids: int) -> list[Order]:
        from sqlalchemy import select

        from kanglu.adapters.sql import tables as t

        assert isinstance(self.uow, SqlUnitOfWorkFactory)
        with self.uow() as uow:
            query = select(Order).where(t.orders.c.connection_id == connection_id).order_by(t.orders.c.erp_order_id)
            if erp_ids:
                query = query.where(t.orders.c.erp_order_id.in_(erp_ids))
            return list(uow.session.scalars(query))

    def outbox(self) -> list[OutboxMessage]:
        from sqlalchemy import select

        from kanglu.adapters.sql import tables as t

        with self.uow() as uow:
            return list(uow.session.scalars(select(OutboxMessage).order_by(t.outbox.c.id)))
