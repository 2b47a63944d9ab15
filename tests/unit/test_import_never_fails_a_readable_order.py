"""Property: any listing item with a usable id (and situação) is imported as an order, with
warnings for whatever is wrong in it; the import never raises and never records a failure."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from kanglu.adapters.tiny.conversion import order_from_listing
from kanglu.adapters.tiny.http import parse_json
from kanglu.application.commands import ImportOrderCommand
from kanglu.domain.orders import ErpOrder
from tests.builders import connected_world
from tests.strategies import listing_items


def _through_the_wire(item: dict[str, object]) -> object:
    """As an answer would arrive (numbers as Decimal); items JSON cannot carry go in as they are."""
    try:
        return parse_json(json.dumps(item).encode())
    except (ValueError, TypeError):
        return item


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=listing_items())
def test_any_listing_item_with_a_valid_id_is_imported_never_a_failure(items: dict[str, object]) -> None:
    raw = _through_the_wire(items)
    converted = order_from_listing(raw)
    assert isinstance(converted, ErpOrder), converted
    for warning in converted.all_warnings:
        assert warning.message and "campo" not in warning.message

    world, connection_id = connected_world()
    importer = world.import_order()
    report = importer(ImportOrderCommand(connection_id, [converted]))
    assert report.failed == 0
    assert world.uow.db.committed.failures == []
    assert report.imported + report.ignored == 1
