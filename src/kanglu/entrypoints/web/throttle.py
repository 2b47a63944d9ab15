"""Login throttling kept in memory: for tests and single-process tools.

The deployment's web app uses the database store (adapters/sql/web_access.py), shared by every
process; both follow application/web_access.py's policy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from kanglu.application.web_access import POLICIES, LoginAttempts, ThrottlePolicy, policy_of

__all__ = ["InMemoryLoginAttempts", "LoginAttempts", "ThrottlePolicy"]


@attrs.define
class _Entry:
    failures: int
    last_failure: datetime
    locked_until: datetime | None


class InMemoryLoginAttempts:
    """Bounded: the oldest entries go first when `max_entries` is reached, so a flood of
    made-up e-mails cannot grow the process without limit."""

    def __init__(self, policies: dict[str, ThrottlePolicy] | None = None, max_entries: int = 100_000) -> None:
        self._policies = policies or POLICIES
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def blocked_for(self, keys: Iterable[str], now: datetime) -> timedelta | None:
        longest: timedelta | None = None
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is None or entry.locked_until is None or entry.locked_until <= now:
                    continue
                left = entry.locked_until - now
                longest = left if longest is None else max(longest, left)
        return longest

    def failed(self, keys: Iterable[str], now: datetime) -> None:
        with self._lock:
            for key in keys:
                policy = policy_of(key, self._policies)
                entry = self._entries.pop(key, None)
                if entry is None or now - entry.last_failure > policy.forget_after:
                    entry = _Entry(failures=0, last_failure=now, locked_until=None)
                entry.failures += 1
                entry.last_failure = now
                lock = policy.lock_for(entry.failures)
                entry.locked_until = now + lock if lock is not None else None
                self._entries[key] = entry  # most recent last
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
