"""Imperative mapping of the domain's attrs entities onto the tables (the domain stays free of
SQLAlchemy: it never imports this module, this module adapts it)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.orm import clear_mappers, registry, relationship

from kanglu.adapters.sql import tables as t
from kanglu.domain.connections import ErpConnection
from kanglu.domain.customers import Customer
from kanglu.domain.events import ConnectionEvent, NotificationSettings
from kanglu.domain.import_failures import ImportFailure
from kanglu.domain.jobs import Job
from kanglu.domain.merchants import ApiKey, Merchant
from kanglu.domain.orders import Order
from kanglu.domain.shipping import normalise_name
from kanglu.domain.tracking import OutboxMessage, Shipment

mapper_registry = registry(metadata=t.metadata)
_lock = threading.Lock()
_started = False
_forget_when_unmapped: list[Callable[[], None]] = []

_Built = TypeVar("_Built")
_Arguments = ParamSpec("_Arguments")


def built_once_per_mapping(build: Callable[_Arguments, _Built]) -> Callable[_Arguments, _Built]:
    """`build()` once (per arguments) while the entities stay mapped: for statements that
    select an entity.

    Such a statement holds the mapper it was built with; after `stop_mappers()` that mapper is
    gone, and the statement, kept in a plain cache, would load rows through it and fail. The
    cache is emptied when the mapping is undone."""
    cached = functools.cache(build)
    _forget_when_unmapped.append(cached.cache_clear)
    return cast(Callable[_Arguments, _Built], cached)


def start_mappers() -> None:
    """Map the entities once per process (idempotent, thread-safe)."""
    global _started
    with _lock:
        if _started:
            return
        mapper_registry.map_imperatively(Merchant, t.merchants)
        mapper_registry.map_imperatively(ApiKey, t.api_keys)
        mapper_registry.map_imperatively(ErpConnection, t.erp_connections)
        customer_mapper = mapper_registry.map_imperatively(Customer, t.customers)
        mapper_registry.map_imperatively(Shipment, t.shipments)
        mapper_registry.map_imperatively(
            Order,
            t.orders,
            properties={
                # "selectin": whatever loads orders loads their customers and shipments in one
                # more query each, never one per order (the importer and the pages touch both).
                "customer": relationship(Customer, lazy="selectin"),
                "shipments": relationship(
                    Shipment, order_by=t.shipments.c.id, cascade="all, delete-orphan", lazy="selectin"
                ),
            },
        )
        mapper_registry.map_imperatively(ImportFailure, t.import_failures)
        mapper_registry.map_imperatively(OutboxMessage, t.outbox)
        mapper_registry.map_imperatively(Job, t.jobs)
        mapper_registry.map_imperatively(ConnectionEvent, t.connection_events)
        mapper_registry.map_imperatively(NotificationSettings, t.notification_settings)
        event.listen(customer_mapper, "before_insert", _fill_search_name)
        event.listen(customer_mapper, "before_update", _fill_search_name)
        _started = True


def mappers_started() -> bool:
    return _started


def stop_mappers() -> None:
    """Undo the mapping (tests that want plain domain classes back)."""
    global _started
    with _lock:
        clear_mappers()
        for forget in _forget_when_unmapped:
            forget()
        _started = False


def _fill_search_name(_mapper: Any, _connection: Any, customer: Customer) -> None:
    customer.search_name = normalise_name(customer.name)  # type: ignore[attr-defined]
