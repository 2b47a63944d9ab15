"""Web sessions kept in memory: for tests over fakes and single-process tools. The deployment
keeps them in the database (adapters/sql/web_access.py); both follow the same policy."""

from __future__ import annotations

import itertools
import secrets
import threading
from datetime import datetime

import attrs

from kanglu.application.web_access import SESSION_TOUCH_INTERVAL, WebSession, WebSessions, session_expired, token_hash

__all__ = ["InMemoryWebSessions", "WebSessions"]


class InMemoryWebSessions:
    def __init__(self) -> None:
        self._by_hash: dict[str, WebSession] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.touches = 0  # how many "last seen" writes: the touch interval is tested with it

    def open(self, merchant_id: int, now: datetime, user_agent: str | None, address: str | None) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._by_hash[token_hash(token)] = WebSession(
                next(self._ids), merchant_id, now, now, (user_agent or "")[:200] or None, (address or "")[:64] or None
            )
        return token

    def resolve(self, token: str, now: datetime) -> WebSession | None:
        hashed = token_hash(token)
        with self._lock:
            found = self._by_hash.get(hashed)
            if found is None:
                return None
            if session_expired(found.created_at, found.last_seen_at, now):
                del self._by_hash[hashed]
                return None
            if now - found.last_seen_at >= SESSION_TOUCH_INTERVAL:
                self._by_hash[hashed] = attrs.evolve(found, last_seen_at=now)
                self.touches += 1
            return found

    def end(self, token: str) -> None:
        with self._lock:
            self._by_hash.pop(token_hash(token), None)

    def end_one(self, merchant_id: int, session_id: int) -> bool:
        with self._lock:
            for hashed, found in list(self._by_hash.items()):
                if found.id == session_id and found.merchant_id == merchant_id:
                    del self._by_hash[hashed]
                    return True
        return False

    def end_others(self, merchant_id: int, keep_token: str | None) -> int:
        keep = token_hash(keep_token) if keep_token else None
        with self._lock:
            doomed = [h for h, s in self._by_hash.items() if s.merchant_id == merchant_id and h != keep]
            for hashed in doomed:
                del self._by_hash[hashed]
        return len(doomed)

    def active(self, merchant_id: int, now: datetime) -> list[WebSession]:
        with self._lock:
            live = [
                s for s in self._by_hash.values()
                if s.merchant_id == merchant_id and not session_expired(s.created_at, s.last_seen_at, now)
            ]
        return sorted(live, key=lambda s: (s.last_seen_at, s.id), reverse=True)
