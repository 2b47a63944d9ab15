"""Who may use the pages: server-side sessions and the login throttle, as ports with their
policy (the numbers SECURITY.md states). The web entrypoint uses them; adapters/sql stores them
so that every web process shares them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

import attrs

# A session ends after this long without a request...
SESSION_IDLE_TIMEOUT = timedelta(hours=12)
# ...and this long after the login, however busy it is.
SESSION_MAX_AGE = timedelta(days=7)
# "Last seen" is written at most this often: a page view must not cost a write every time.
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)


def token_hash(token: str) -> str:
    """Session ids are 256 random bits: a plain SHA-256 is enough to store them (nothing to
    guess), and a copy of the database opens no session."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_expired(created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= SESSION_IDLE_TIMEOUT or now - created_at >= SESSION_MAX_AGE


@attrs.frozen
class WebSession:
    id: int
    merchant_id: int
    created_at: datetime
    last_seen_at: datetime
    user_agent: str | None
    address: str | None


class WebSessions(Protocol):
    def open(self, merchant_id: int, now: datetime, user_agent: str | None, address: str | None) -> str:
        """A new session; returns its id (the cookie's value), which is stored only hashed."""
        ...

    def resolve(self, token: str, now: datetime) -> WebSession | None:
        """The live session with this id (its "last seen" refreshed now and then), or None
        when it is unknown, ended or expired."""
        ...

    def end(self, token: str) -> None: ...

    def end_one(self, merchant_id: int, session_id: int) -> bool:
        """End one of the merchant's sessions; False when it has no such session."""
        ...

    def end_others(self, merchant_id: int, keep_token: str | None) -> int:
        """End every session of the merchant but `keep_token`'s; how many ended."""
        ...

    def active(self, merchant_id: int, now: datetime) -> list[WebSession]:
        """The merchant's live sessions, the most recently seen first."""
        ...


@attrs.frozen
class ThrottlePolicy:
    """`free` failures per key are allowed; the next locks the key for `first_lock`, doubled at
    every further failure up to `max_lock`. A key forgets its failures `forget_after` after
    the last one."""

    free: int = 5
    first_lock: timedelta = timedelta(seconds=30)
    max_lock: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)

    def lock_for(self, failures: int) -> timedelta | None:
        if failures < self.free:
            return None
        doublings = min(failures - self.free, 30)  # a bounded exponent: timedelta overflows past ~2**45 s
        lock: timedelta = self.first_lock * 2**doublings
        return min(lock, self.max_lock)


# Keys are "kind:value". One attacker at one address meets the pair's limit long before the
# others; the address limit is looser (offices share an address); the e-mail limit stops a
# spread-out attack on one account but only for a short cool-down, so that nobody can keep a
# merchant out for long (SECURITY.md).
PAIR = "pair"
ADDRESS = "ip"
EMAIL = "email"
POLICIES: dict[str, ThrottlePolicy] = {
    PAIR: ThrottlePolicy(free=5, first_lock=timedelta(seconds=30), max_lock=timedelta(minutes=15)),
    ADDRESS: ThrottlePolicy(free=30, first_lock=timedelta(minutes=1), max_lock=timedelta(minutes=15)),
    EMAIL: ThrottlePolicy(free=20, first_lock=timedelta(minutes=5), max_lock=timedelta(minutes=5)),
}


def throttle_keys(email: str, address: str) -> list[str]:
    """The keys of one login attempt: (e-mail, address), the address, the e-mail."""
    return [f"{PAIR}:{email}|{address}", f"{ADDRESS}:{address}", f"{EMAIL}:{email}"]


def policy_of(key: str, policies: dict[str, ThrottlePolicy] | None = None) -> ThrottlePolicy:
    return (policies or POLICIES).get(key.split(":", 1)[0], ThrottlePolicy())


class LoginAttempts(Protocol):
    def blocked_for(self, keys: Iterable[str], now: datetime) -> timedelta | None:
        """How long the longest lock among `keys` still lasts, or None when none is locked."""
        ...

    def failed(self, keys: Iterable[str], now: datetime) -> None: ...

    def succeeded(self, keys: Iterable[str]) -> None: ...
