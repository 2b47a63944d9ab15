"""A web app over the fakes: the real container, use cases, Fernet box and HMAC state signer;
in-memory persistence, OAuth server and read side."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient

from kanglu.adapters.crypto import FernetSecretBox, HmacStateSigner
from kanglu.application.commands import CreateMerchantCommand, ImportOrderCommand, SaveErpCredentialsCommand
from kanglu.domain.orders import ErpOrder, MalformedOrder
from kanglu.domain.secrets import Secret
from kanglu.entrypoints.containers import Container
from kanglu.entrypoints.settings import Settings
from kanglu.entrypoints.web import create_app
from kanglu.entrypoints.web.sessions import InMemoryWebSessions
from kanglu.entrypoints.web.throttle import InMemoryLoginAttempts
from tests.fake_queries import FakeCustomerQueries, FakeMerchantQueries, FakeOrderQueries, FakeSyncQueries
from tests.fakes import (
    FakeClock,
    FakeErpGateway,
    FakeOAuth,
    FakePasswordHasher,
    FakeTrackingService,
    FakeUnitOfWorkFactory,
)

CLIENT_SECRET = "tiny-client-secret-9f8e7d6c5b4a"
CLIENT_ID = "tiny-api-0123456789abcdef0123456789abcdef01234567-1700000000"
INVITE_LINK = "https://accounts.tiny.com.br/realms/tiny/convite/abc123"
PASSWORD = "senha-muito-forte"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


@attrs.frozen
class Account:
    id: int
    email: str
    api_key: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@attrs.define
class WebWorld:
    settings: Settings
    clock: FakeClock = attrs.Factory(FakeClock)
    uow: FakeUnitOfWorkFactory = attrs.Factory(FakeUnitOfWorkFactory)
    oauth: FakeOAuth = attrs.Factory(FakeOAuth)
    gateway: FakeErpGateway = attrs.Factory(FakeErpGateway)
    tracking: FakeTrackingService = attrs.Factory(FakeTrackingService)
    login_attempts: InMemoryLoginAttempts = attrs.Factory(InMemoryLoginAttempts)
    sessions: InMemoryWebSessions = attrs.Factory(InMemoryWebSessions)
    container: Container = attrs.field(init=False)
    app: Flask = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        container = Container(settings=self.settings)
        clock = self.clock
        container.core.clock.override(providers.Object(clock))
        container.core.state_signer.override(
            providers.Object(HmacStateSigner(self.settings.secret_key, clock=lambda: clock.now().timestamp()))
        )
        container.core.passwords.override(providers.Object(FakePasswordHasher()))
        container.adapters.uow.override(providers.Object(self.uow))
        container.adapters.oauth.override(providers.Object(self.oauth))
        container.adapters.gateway.override(providers.Object(self.gateway))
        container.adapters.tracking.override(providers.Object(self.tracking))
        container.adapters.order_queries.override(providers.Object(FakeOrderQueries(self.uow.db)))
        container.adapters.customer_queries.override(providers.Object(FakeCustomerQueries(self.uow.db)))
        container.adapters.merchant_queries.override(providers.Object(FakeMerchantQueries(self.uow.db)))
        container.adapters.sync_queries.override(providers.Object(FakeSyncQueries(self.uow.db)))
        self.container = container
        self.app = create_app(container, login_attempts=self.login_attempts, sessions=self.sessions)
        self.app.testing = True

    # -- arranging a world -----------------------------------------------------------------

    def merchant(self, name: str = "Loja Aurora", email: str = "lojista@aurora.com.br") -> Account:
        created = self.container.use_cases.create_merchant()(CreateMerchantCommand(name, email, Secret(PASSWORD)))
        assert created.merchant.id is not None
        return Account(created.merchant.id, created.merchant.email, created.api_key)

    def configure(self, account: Account, secret: str = CLIENT_SECRET) -> None:
        self.container.use_cases.save_credentials()(
            SaveErpCredentialsCommand(account.id, CLIENT_ID, Secret(secret), INVITE_LINK)
        )

    def connect(self, account: Account) -> int:
        """Configured and connected through the real use cases and the fake OAuth server."""
        from kanglu.application.commands import BeginConnectErpCommand, CompleteConnectErpCommand

        self.configure(account)
        url = self.container.use_cases.connect_erp().begin(BeginConnectErpCommand(account.id))
        state = parse_qs(urlsplit(url).query)["state"][0]
        connection = self.container.use_cases.connect_erp().complete(
            CompleteConnectErpCommand(state=state, code=self.oauth.issue_code())
        )
        assert connection.id is not None
        return connection.id

    def connection_id(self, account: Account) -> int:
        connection = self.uow.read().connections.for_merchant(account.id)
        assert connection is not None and connection.id is not None
        return connection.id

    def import_orders(self, account: Account, items: Sequence[ErpOrder | MalformedOrder]) -> None:
        self.container.use_cases.import_order()(ImportOrderCommand(self.connection_id(account), list(items)))

    def order_ids(self, account: Account) -> list[int]:
        return [o.id for o in self.uow.read().orders.all() if o.merchant_id == account.id and o.id is not None]

    def customer_ids(self, account: Account) -> list[int]:
        return sorted(c.id for c in self.uow.read().state.customers.values() if c.merchant_id == account.id)

    # -- driving it ------------------------------------------------------------------------

    def client(self, account: Account | None = None) -> FlaskClient:
        client = self.app.test_client()
        if account is not None:
            login(client, account.email)
        return client


def login(client: FlaskClient, email: str, password: str = PASSWORD, next_url: str | None = None):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    form = {"csrf_token": csrf_of(page.get_data(as_text=True)), "email": email, "password": password}
    if next_url:
        form["next"] = next_url
    return client.post("/login", data=form)


def post_form(client: FlaskClient, page_path: str, action: str, data: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Submit a form the way a browser does: read the page, take its token, post."""
    page = client.get(page_path)
    assert page.status_code == 200, page.status_code
    return client.post(action, data={"csrf_token": csrf_of(page.get_data(as_text=True)), **(data or {})})


def test_settings(data_dir: Path, public_url: str = "http://kanglu.test", auth_url: str | None = None) -> Settings:
    extra = {"tiny_auth_url": auth_url} if auth_url else {}
    return Settings(
        data_dir=data_dir,
        database_url="sqlite://",
        secret_key="kanglu-test-secret-key-0123456789",
        encryption_keys=(FernetSecretBox.generate_key(),),
        public_url=public_url,
        **extra,
    )


test_settings.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[WebWorld]:
    yield WebWorld(settings=test_settings(tmp_path))
