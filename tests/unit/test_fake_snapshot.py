"""The fake database's transactions (tests/fake_snapshot.py) isolate like a real one: a unit of
work's changes stay private until it commits, a commit never reaches into objects the caller
still holds, and rows keep pointing at the current version of the rows they point at."""

from __future__ import annotations

import attrs

from tests.fake_snapshot import Snapshot


@attrs.define
class Customer:
    name: str


@attrs.define
class Note:
    text: str


@attrs.define
class Order:
    number: str
    customer: Customer | None
    note: Note | None = None


@attrs.define
class State:
    customers: dict[int, Customer] = attrs.Factory(dict)
    orders: dict[int, Order] = attrs.Factory(dict)
    log: list[str] = attrs.Factory(list)
    notes: list[Note] = attrs.Factory(list)


def committed_state() -> State:
    ana, bia = Customer("Ana"), Customer("Bia")
    return State(customers={1: ana, 2: bia},
                 orders={10: Order("10", ana), 11: Order("11", ana), 12: Order("12", bia), 13: Order("13", None)})


def test_changes_stay_private_until_published_and_the_committed_state_never_changes() -> None:
    committed = committed_state()
    snapshot = Snapshot(committed)
    snapshot.customers[1].name = "Ana Maria"
    snapshot.orders[14] = Order("14", snapshot.customers[2])
    snapshot.log.append("changed")
    assert committed.customers[1].name == "Ana" and 14 not in committed.orders and committed.log == []
    assert Snapshot(committed).customers[1].name == "Ana"  # another unit of work sees what is committed

    published = snapshot.publish()
    assert published.customers[1].name == "Ana Maria" and published.orders[14].number == "14"
    assert published.log == ["changed"]
    assert committed.customers[1].name == "Ana" and committed.log == []  # the old state is untouched


def test_an_untouched_row_points_at_the_version_of_the_row_this_snapshot_changed() -> None:
    snapshot = Snapshot(committed_state())
    snapshot.customers[1].name = "Ana Maria"  # the orders are never read
    published = snapshot.publish()
    assert published.orders[10].customer is published.customers[1]
    assert published.orders[11].customer is published.customers[1]
    assert published.orders[10].customer.name == "Ana Maria"


def test_rows_that_point_at_nothing_changed_are_shared_not_copied() -> None:
    committed = committed_state()
    snapshot = Snapshot(committed)
    snapshot.customers[1].name = "Ana Maria"
    published = snapshot.publish()
    # Bia's order and the order with no customer point at nothing that changed: the same
    # objects (a committed state is never mutated, so sharing them is safe).
    assert published.orders[12] is committed.orders[12] and published.customers[2] is committed.customers[2]
    assert published.orders[13] is committed.orders[13]
    assert published.orders[10] is not committed.orders[10]


def test_the_callers_objects_stay_its_own_after_the_commit() -> None:
    snapshot = Snapshot(committed_state())
    mine = snapshot.customers[2]
    mine.name = "Bia Souza"
    published = snapshot.publish()
    mine.name = "changed after the commit"
    assert published.customers[2].name == "Bia Souza"
    assert published.orders[12].customer is published.customers[2]


def test_a_snapshot_that_touched_nothing_publishes_the_committed_state_itself() -> None:
    committed = committed_state()
    assert Snapshot(committed).publish() is committed



def test_a_row_copied_for_another_field_keeps_pointing_at_the_row_its_table_holds() -> None:
    # The order shares its note with the notes table, which the snapshot changes: the order is
    # copied, and its customer must stay the customers table's row, not a copy made with it
    # (a later change of that customer would then miss the order).
    bia, note = Customer("Bia"), Note("frágil")
    committed = State(customers={2: bia}, orders={12: Order("12", bia, note)}, notes=[note])
    snapshot = Snapshot(committed)
    snapshot.notes[0].text = "muito frágil"
    published = snapshot.publish()
    assert published.orders[12].note is published.notes[0] and published.notes[0].text == "muito frágil"
    assert published.orders[12].customer is published.customers[2]

    later = Snapshot(published)
    later.customers[2].name = "Bia Souza"
    again = later.publish()
    assert again.orders[12].customer is again.customers[2] and again.orders[12].customer.name == "Bia Souza"
