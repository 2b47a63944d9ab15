"""What views need from the container, reached through the current app (one container per app,
so tests can run several apps side by side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dependency_injector import providers
from flask import current_app

from kanglu.application.ports import Clock, PasswordHasher
from kanglu.application.queries import CustomerQueries, MerchantQueries, OrderQueries, SyncQueries
from kanglu.application.status_mapping_query import MappingState
from kanglu.application.web_access import LoginAttempts, WebSessions
from kanglu.domain.carriers import CarrierRegistry
from kanglu.entrypoints.settings import Settings

if TYPE_CHECKING:
    from kanglu.entrypoints.containers import Container, UseCases

EXTENSION = "kanglu"


class Deps:
    def __init__(self, container: Container, login_attempts: LoginAttempts, sessions: WebSessions) -> None:
        self.container = container
        self.login_attempts = login_attempts
        self.sessions = sessions
        self.dummy_hash: str | None = None  # see auth.DUMMY_PASSWORD

    @property
    def settings(self) -> Settings:
        return self.container.settings()

    @property
    def use_cases(self) -> providers.Container[UseCases]:
        """The container's use cases: `deps().use_cases.connect_erp()` and the like."""
        return self.container.use_cases

    @property
    def clock(self) -> Clock:
        return self.container.core.clock()

    @property
    def passwords(self) -> PasswordHasher:
        return self.container.core.passwords()

    @property
    def carriers(self) -> CarrierRegistry:
        return self.container.core.carriers()

    @property
    def orders(self) -> OrderQueries:
        return self.container.adapters.order_queries()

    @property
    def customers(self) -> CustomerQueries:
        return self.container.adapters.customer_queries()

    @property
    def merchants(self) -> MerchantQueries:
        return self.container.adapters.merchant_queries()

    @property
    def sync(self) -> SyncQueries:
        return self.container.adapters.sync_queries()

    def status_mapping(self, merchant_id: int) -> MappingState:
        query: Callable[[int], MappingState] = self.container.use_cases.status_mapping_query()
        return query(merchant_id)


def deps() -> Deps:
    found: Deps = current_app.extensions[EXTENSION]
    return found
