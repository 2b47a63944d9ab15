"""Login throttling: after repeated failures a key (an e-mail, an address) waits, longer each time.

Kept in memory, so it holds for one web process: with several processes (gunicorn workers,
machines) each keeps its own count and an attacker gets that many times the attempts. The
`LoginAttempts` protocol is the seam for a shared store (the database, Redis) if that matters.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

import attrs


class LoginAttempts(Protocol):
    def blocked_for(self, keys: Iterable[str], now: datetime) -> timedelta | None:
        """How long the longest lock among `keys` still lasts, or None when none is locked."""
        ...

    def failed(self, keys: Iterable[str], now: datetime) -> None: ...

    def succeeded(self, keys: Iterable[str]) -> None: ...


@attrs.frozen
class ThrottlePolicy:
    """`free` failures per key are allowed; each one after that locks the key for `first_lock`,
    doubled at every further failure up to `max_lock`. A key forgets its failures after
    `forget_after` without a new one."""

    free: int = 5
    first_lock: timedelta = timedelta(seconds=30)
    max_lock: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)

    def lock_for(self, failures: int) -> timedelta | None:
        if failures < self.free:
            return None
        doublings = min(failures - self.free, 30)  # a bounded exponent: timedelta overflows past ~2**45 s
        return min(self.first_lock * (2**doublings), self.max_lock)


@attrs.define
class _Entry:
    failures: int
    last_failure: datetime
    locked_until: datetime | None


class InMemoryLoginAttempts:
    """Bounded: the oldest entries go first when `max_entries` is reached, so a flood of
    made-up e-mails cannot grow the process without limit."""

    def __init__(self, policies: dict[str, ThrottlePolicy] | None = None, max_entries: int = 100_000) -> None:
        # Per key kind ("email", "ip"): offices behind one address deserve more room.
        self._policies = policies or {"email": ThrottlePolicy(), "ip": ThrottlePolicy(free=20)}
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def _policy(self, key: str) -> ThrottlePolicy:
        return self._policies.get(key.split(":", 1)[0], ThrottlePolicy())

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
                policy = self._policy(key)
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
