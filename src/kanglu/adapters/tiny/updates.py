"""Reading the orders changed since an instant, whatever Tiny's `dataAtualizacao` means.

Tiny does not document the filter (TINY_API.md). It may mean "changed on or after that day",
"changed on that day only" or "changed on or after that moment", and no answer carries an
update date to check afterwards. So a window [since, until] is read one São Paulo day at a
time, which is complete under all three:

- the first day is asked with a time part (`YYYY-MM-DD HH:MM:SS`, the window's start): where
  Tiny honours it, a poll late in a busy day reads only the last minutes instead of the whole
  day; where Tiny ignores it, the answer is the whole day, still complete; where Tiny refuses
  it (400), the day is asked again as a bare date, and that account is not sent a time again;
- every later day up to `until`'s is asked as a bare date, from offset 0.

Walking every day would be quadratic where the filter means "on or after": each day re-lists
all the days after it, and a 30-day first import would read the window sixteen times over.
One observation saves it, and it is sound under the three meanings: when two consecutive days
both lie before `until`'s day, "that day only" cannot list an order under both (an order's last
change is on one day, and a change made since moves it to today, not to the later past day).
So an order of day d+1 already listed under day d proves the filter reaches forward: the
listing of day d, read after the window began, already held every later change, and the walk
ends there. The days the walk reaches are read newest first, so that their first page holds the
orders most likely listed the day before as well. Where this process did not read the day
before (another worker did, or a restart came between), one call asks Tiny instead whether an
order of the page is listed under the day before too (`numero` filter, gateway.py). Without a
proof the walk goes on: slower, never incomplete.

Paging by offset has one more trap under "that day only": a past day's order that changes while
its day is being read leaves that listing, the pages after it slide back one place, and the
order that slid across the page boundary would be skipped for good (its day is not read again).
The listing's `total` says so: when it drops between two pages, the next page starts that many
places back (an order read twice is imported once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def sao_paulo(instant: datetime) -> datetime:
    """The instant in São Paulo local time (a naive one is taken as UTC)."""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(SAO_PAULO)


def sao_paulo_day(instant: datetime) -> date:
    return sao_paulo(instant).date()


def day_start(day: date) -> datetime:
    """São Paulo midnight of `day`, as an aware UTC instant."""
    return datetime.combine(day, time.min, SAO_PAULO).astimezone(UTC)


def filter_value(since: datetime, with_time: bool) -> str:
    """`dataAtualizacao` for a window starting at `since`: the bare day at midnight (or when a
    time is not to be sent), else the São Paulo date-time, rounded down to the second."""
    local = sao_paulo(since)
    if not with_time or local.time().replace(microsecond=0) == time.min:
        return local.date().isoformat()
    return local.strftime("%Y-%m-%d %H:%M:%S")


@attrs.define
class _DayRead:
    """What one account's walk read of one day's listing, while its pages came in order."""

    day: date
    until: datetime  # the window's end: another window's reads prove nothing here
    ids: set[int] | None  # None: not kept (no later day can be compared with this one)
    next_offset: int = 0
    total: int | None = None
    whole: bool = False  # read here from offset 0, page after page
    finished: bool = False  # ...to its last page

    def reads(self, day: date, until: datetime) -> bool:
        return self.day == day and self.until == until

    def shrunk_by(self, offset: int, total: int | None) -> int:
        """How many orders left the listing since its previous page (0 when it cannot tell)."""
        if self.next_offset != offset:
            self.total = None  # resumed elsewhere or read again: no shrink to compare
            self.whole = self.whole and offset == 0
            return 0
        if self.total is not None and total is not None and total < self.total:
            # "That day only" loses a past day's orders as they change again: read back.
            return min(offset, self.total - total)
        return 0

    def note(self, ids: list[int], offset: int, received: int, total: int | None, last: bool, shrunk_by: int) -> None:
        if self.ids is not None:
            self.ids.update(ids)
        self.next_offset = offset - shrunk_by if shrunk_by else offset + received
        self.total = total
        self.finished = last and not shrunk_by

    def listed_any(self, ids: Iterable[int]) -> bool:
        return self.ids is not None and not self.ids.isdisjoint(ids)

    @property
    def read_whole(self) -> bool:
        """Whether its ids hold the whole day: read here from offset 0 to the last page."""
        return self.ids is not None and self.whole and self.finished


def _start_day(
    current: _DayRead | None, day: date, until: datetime, walked: bool, offset: int, until_day: date
) -> tuple[_DayRead | None, _DayRead]:
    """A new day's read, and the read of the day before it when the walk came from there."""
    follows = current is not None and current.reads(day - timedelta(days=1), until)
    previous = current if follows and walked else None
    keep = day + timedelta(days=1) < until_day  # a later day before `until`'s may be compared
    return previous, _DayRead(day, until, set() if keep else None, next_offset=offset, whole=offset == 0)


@attrs.frozen
class PageSeen:
    """What one page tells the walk: a proof that the filter reaches forward (the walk may end);
    whether this process read the whole day before (else only a probe can tell, gateway.py);
    and how many orders left the listing since its previous page (read again from that many
    places back: the pages after a removal slide back, and would skip as many orders)."""

    proof: bool = False
    day_before_known: bool = False
    shrunk_by: int = 0


class UpdateWalks:
    """What each account's current walk has read, for the overlap proof and the shrink check,
    and which accounts refused a time part. Thread-safe; a connection's walk runs in one thread
    at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: dict[str, tuple[_DayRead | None, _DayRead]] = {}
        self._time_refused: set[str] = set()

    def sends_time(self, key: str) -> bool:
        with self._lock:
            return key not in self._time_refused

    def time_refused(self, key: str) -> None:
        with self._lock:
            self._time_refused.add(key)

    def record(
        self, key: str, day: date, until: datetime, walked: bool, offset: int, ids: Iterable[int], received: int,
        total: int | None, last: bool,
    ) -> PageSeen:
        """Note one page of `day`'s listing, read from `offset` (`received` items, `ids` the
        readable ones, `total` as the answer said); `walked`: the window reached this day from
        the one before (which it read to its end), so a proof may end the walk.

        The proof needs no whole day in memory: under "that day only" no order of a past day can
        be listed under the next one at all, so any order seen under both proves the filter
        reaches forward, even when another process read the rest of the day."""
        ids = list(ids)
        until_day = sao_paulo_day(until)
        with self._lock:
            previous, current = self._reads.get(key, (None, None))
            if current is None or not current.reads(day, until):
                previous, current = _start_day(current, day, until, walked, offset, until_day)
                shrunk_by = 0
            else:
                shrunk_by = current.shrunk_by(offset, total)
            current.note(ids, offset, received, total, last, shrunk_by)
            proof = previous is not None and day < until_day and previous.listed_any(ids)
            known = previous is not None and previous.read_whole
            if proof or (current.finished and day >= until_day):
                self._reads.pop(key, None)
            else:
                self._reads[key] = (previous, current)
            return PageSeen(proof, known, shrunk_by)
