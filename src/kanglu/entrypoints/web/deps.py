"""What views need from the container, reached through the current app (one container per app,
so tests can run several apps side by side)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs
from dependency_injector import providers
from flask import current_app

from kanglu.application.ports import Clock, PasswordHasher
from kanglu.application.queries import CustomerQueries, MerchantQueries, OrderQueries, SyncQueries
from kanglu.application.status_mapping_query import MappingState
from kanglu.application.web_access import LoginAttempts, WebSessions
from kanglu.domain.carriers import NOT_TRACKED, Carrier, CarrierRegistry
from kanglu.entrypoints.settings import Settings

if TYPE_CHECKING:
    from kanglu.entrypoints.containers import Container, UseCases

EXTENSION = "kanglu"


@attrs.frozen
class CarrierChoices:
    """The carriers as the order pages show them: the filter's options by name (as Jinja's
    `sort` ordered them, case ignored) and each code's name, "none" included."""

    registry: CarrierRegistry
    by_name: tuple[Carrier, ...]
    names: Mapping[str, str]

    @classmethod
    def of(cls, registry: CarrierRegistry) -> CarrierChoices:
        by_name = tuple(sorted(registry.carriers, key=lambda c: c.name.lower()))
        names = {c.code: c.name for c in registry.carriers} | {NOT_TRACKED.code: NOT_TRACKED.name}
        return cls(registry, by_name, names)


class Deps:
    def __init__(self, container: Container, login_attempts: LoginAttempts, sessions: WebSessions) -> None:
        self.container = container
        self.login_attempts = login_attempts
        self.sessions = sessions
        self.dummy_hash: str | None = None  # see auth.DUMMY_PASSWORD
        self._carrier_choices: CarrierChoices | None = None

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
    def carrier_choices(self) -> CarrierChoices:
        """Built once, not at every page view: the registry does not change while the app runs
        (a test that overrides it gets choices of its own)."""
        registry = self.carriers
        choices = self._carrier_choices
        if choices is None or choices.registry is not registry:
            choices = self._carrier_choices = CarrierChoices.of(registry)
        return choices

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
