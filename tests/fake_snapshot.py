"""The fake database's transactions: a unit of work sees one committed state, copied row by
row as it touches them, and publishes a whole new state on commit.

Why not one deep copy of everything per transaction: that is what the fakes did, four copies
per unit of work (create, enter, exit, commit), and on accounts of a few hundred orders the
copying was most of the test suite's time (a 200-order poll test spent 31 of its 33 s in
`copy.deepcopy`). Isolation is unchanged:
- a snapshot reads from the committed state as it was when the snapshot began, which is never
  mutated afterwards (a commit replaces it), so rows copied late are as of the same moment;
- every row handed out is the snapshot's own copy, so changes stay private until commit;
- copies share one memo, so objects shared between rows (an order's customer and the customer
  row) stay one object, as in one deep copy of everything.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import attrs

_MISSING = object()


class Rows(MutableMapping[Any, Any]):
    """One dict-shaped table of a snapshot: committed rows copied on first access."""

    def __init__(self, committed: dict[Any, Any], memo: dict[int, Any]) -> None:
        self._committed = committed
        self._memo = memo
        self._own: dict[Any, Any] = {}  # rows copied, added or replaced by this snapshot
        self._deleted: set[Any] = set()

    def __getitem__(self, key: Any) -> Any:
        row = self._own.get(key, _MISSING)
        if row is not _MISSING:
            return row
        if key in self._deleted or key not in self._committed:
            raise KeyError(key)
        row = self._own[key] = copy.deepcopy(self._committed[key], self._memo)
        return row

    def __setitem__(self, key: Any, row: Any) -> None:
        self._own[key] = row
        self._deleted.discard(key)

    def __delitem__(self, key: Any) -> None:
        if key not in self:
            raise KeyError(key)
        self._own.pop(key, None)
        self._deleted.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self._own or (key in self._committed and key not in self._deleted)

    def __iter__(self) -> Iterator[Any]:
        for key in self._committed:
            if key not in self._deleted:
                yield key
        for key in self._own:
            if key not in self._committed:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def where(self, predicate: Callable[[Any], bool]) -> Iterator[Any]:
        """The rows `predicate` accepts, copied; the others are looked at, never copied (the
        predicate only reads)."""
        for key in list(self):
            current = self._own.get(key, _MISSING)
            if predicate(self._committed[key] if current is _MISSING else current):
                yield self[key]

    def owns(self, key: Any) -> bool:
        """Whether this snapshot has its own version of the row (copied, added or replaced)."""
        return key in self._own

    def own(self, key: Any) -> Any:
        return self._own[key]


class Snapshot:
    """A unit of work's state: the attributes of the committed state object, each table made
    on first use (dict tables as `Rows`, others copied whole)."""

    def __init__(self, committed: Any) -> None:
        object.__setattr__(self, "_committed", committed)
        object.__setattr__(self, "_memo", {})
        object.__setattr__(self, "_tables", {})

    def __getattr__(self, name: str) -> Any:
        tables: dict[str, Any] = self.__dict__["_tables"]
        if name not in tables:
            value = getattr(self.__dict__["_committed"], name)
            memo = self.__dict__["_memo"]
            tables[name] = Rows(value, memo) if isinstance(value, dict) else copy.deepcopy(value, memo)
        return tables[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a snapshot's tables are changed in place")

    def publish(self) -> Any:
        """A new committed state: this snapshot's rows deep copied (so the caller's objects stay
        its own), and the committed rows it never touched shared as they are, since a committed
        state is never mutated. Except the untouched rows that point, directly or through other
        rows, at a row this snapshot copied: those are copied too, through one memo, so an
        untouched order points at the customer this snapshot changed, and every row still
        points at the one version of each row the tables hold. (Deep copying every row at every
        commit, as this did, was a fifth of the CPU of the tests that run on the fakes.)"""
        committed, own_memo, tables = self._committed, self.__dict__["_memo"], self.__dict__["_tables"]
        if not tables:
            return committed  # nothing read or written: the committed state is never mutated
        memo: dict[int, Any] = {}
        for original_id, own in list(own_memo.items()):
            if original_id != id(own_memo):  # deepcopy keeps its keep-alive list under the memo's id
                memo[original_id] = copy.deepcopy(own, memo)
        untouched = [row for name, value in _tables_of(committed) for row in _untouched_rows(value, tables.get(name))]
        stale = _pointing_at(untouched, set(own_memo) - {id(own_memo)})
        for row in untouched:
            if id(row) not in stale:
                memo.setdefault(id(row), row)  # shared, and what copied rows point at stays it

        def carried(row: Any) -> Any:
            return copy.deepcopy(row, memo) if id(row) in stale else row

        state = copy.copy(committed)
        for name, value in _tables_of(committed):
            table = tables.get(name)
            fresh: Any
            if isinstance(table, Rows):
                fresh = {key: copy.deepcopy(table.own(key), memo) if table.owns(key) else carried(value[key])
                         for key in table}
            elif table is not None:
                fresh = copy.deepcopy(table, memo)
            elif isinstance(value, dict):
                fresh = {key: carried(row) for key, row in value.items()}
            else:
                fresh = [carried(row) for row in value]
            setattr(state, name, fresh)
        return state


def _tables_of(state: Any) -> Iterator[tuple[str, Any]]:
    return ((field.name, getattr(state, field.name)) for field in attrs.fields(type(state)))


def _untouched_rows(committed: Any, table: Any) -> Iterator[Any]:
    """The committed rows a snapshot's table left as they were (all of them when it never
    used the table; none of a table it copied whole)."""
    if isinstance(table, Rows):
        return (committed[key] for key in table if not table.owns(key))
    if table is not None:
        return iter(())
    return iter(committed.values() if isinstance(committed, dict) else committed)


def _pointing_at(rows: list[Any], changed: set[int]) -> set[int]:
    """The ids of the rows that are in `changed` or point at one, directly or through other
    such rows (an order at a customer that was copied)."""
    stale = set(changed)
    found: set[int] = set()
    while True:
        more = {id(row) for row in rows if id(row) not in found and _points_at(row, stale)}
        if not more:
            return found
        found |= more
        stale |= more


def _points_at(row: Any, ids: set[int]) -> bool:
    """Whether `row` or one of its fields or items is an object in `ids`, one level deep: rows
    point at other rows (an order at its customer), never deeper. A row of a shape this does
    not know counts as pointing, to be safe."""
    if id(row) in ids:
        return True
    if isinstance(row, dict):
        return any(id(value) in ids for value in row.values())
    if attrs.has(type(row)):
        return any(id(getattr(row, field.name)) in ids for field in attrs.fields(type(row)))
    return not isinstance(row, (str, int, float, bool, type(None)))


def where(table: MutableMapping[Any, Any], predicate: Callable[[Any], bool]) -> Iterator[Any]:
    """`table`'s rows that `predicate` accepts: copied only those from a snapshot's `Rows`, all
    of them from a plain dict (a benchmark's shared state, which copies nothing)."""
    if isinstance(table, Rows):
        return table.where(predicate)
    return (row for row in table.values() if predicate(row))
