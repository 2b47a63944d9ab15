"""Per-account pacing of Tiny API calls from the X-RateLimit-* headers, before Tiny says 429.

Tiny's budget is per account and per minute, shared by every application on the account; the
answers say how much is left (`X-RateLimit-Remaining`) and in how many seconds the window
resets (`X-RateLimit-Reset`). While plenty is left, calls go out at the burst pace; when little
is left, the remaining calls are spread over the time to the reset, so the account never hits
the wall. A wait longer than `max_wait` is not slept: it becomes a RateLimited, so the worker
reschedules that connection and its thread serves the others meanwhile.

Tiny has two buckets: the plan's reads per minute (30 on the smallest plan) and a burst bucket
of about 4 calls a second. A 429 from the burst bucket says so (`X-RateLimit-Limit: 4`,
`Remaining: 0`, `Reset: 1`): it is a one-second pause and a slower burst pace, never the
minute's budget; taking its figures for the minute's would set the connection aside for long.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

import attrs

from kanglu.application.errors import RateLimited

RATE_LIMITED_MESSAGE = "limite de requisições da conta no Tiny atingido; a sincronização continua em instantes"


@attrs.frozen
class RateLimitHeaders:
    """What one answer said about the account's budget; None where a header was missing."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None  # seconds until the window resets

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitHeaders:
        # httpx.Headers already match names case-insensitively; a plain mapping is folded here
        # so that any mapping of headers works the same.
        folded = {k.lower(): v for k, v in headers.items()}
        return cls(
            limit=_whole(folded.get("x-ratelimit-limit")),
            remaining=_whole(folded.get("x-ratelimit-remaining")),
            reset=_seconds(folded.get("x-ratelimit-reset")),
        )

    @property
    def present(self) -> bool:
        return self.remaining is not None or self.reset is not None


def _whole(text: str | None) -> int | None:
    try:
        value = int(float(text)) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


def _seconds(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    # A reset is "seconds until", never a timestamp; anything beyond an hour is not believed.
    return value if value is not None and math.isfinite(value) and 0 <= value <= 3600 else None


@attrs.define
class _Budget:
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # monotonic instant the window resets
    next_at: float = 0.0  # earliest instant of the next call
    last_slot: float = 0.0  # the latest instant given to a call
    blocked_until: float = 0.0
    burst_limit: int | None = None  # calls a second, learnt from a burst bucket's 429


class RateLimitPacer:
    """Decides, per account key, when the next call may go out. Thread-safe."""

    def __init__(
        self,
        *,
        burst_interval: float = 0.25,
        fallback_interval: float = 1.0,
        max_wait: float = 5.0,
        low_water: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # burst_interval: 4 calls a second, the burst bucket measured on a real account.
        # fallback_interval: the pace while no answer has carried the headers (60 a minute, the
        # middle of the published plans).
        self._burst = burst_interval
        self._fallback = fallback_interval
        self._max_wait = max_wait
        self._low_water = low_water
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._budgets: dict[str, _Budget] = {}

    def acquire(self, key: str) -> float:
        """Wait (at most `max_wait`) for the account's next slot and take it; returns the wait.
        Raises RateLimited when the slot is further away than that."""
        with self._lock:
            budget = self._budgets.setdefault(key, _Budget())
            now = self._clock()
            slot = max(now, budget.next_at, budget.blocked_until)
            if budget.remaining is not None and budget.remaining <= 0 and budget.reset_at is not None:
                slot = max(slot, budget.reset_at)
            wait = slot - now
            if wait > self._max_wait:
                raise RateLimited(RATE_LIMITED_MESSAGE, retry_after=round(wait, 3))
            budget.next_at = slot + self._interval(budget, slot)
            budget.last_slot = slot
            if budget.remaining is not None and (budget.reset_at is None or slot < budget.reset_at):
                budget.remaining -= 1  # our own estimate until the answer tells the truth
        if wait > 0:
            self._sleep(wait)
        return wait

    def observe(self, key: str, headers: RateLimitHeaders, *, refused: bool = False) -> None:
        """Take what an answer (`refused`: a 429) said about the budget."""
        if not headers.present:
            return
        with self._lock:
            budget = self._budgets.setdefault(key, _Budget())
            now = self._clock()
            if refused and _is_burst_bucket(budget, headers):
                # The per-second bucket ran out, not the minute: the minute's figures stand; the
                # account waits for that second to pass and bursts no faster than the bucket.
                assert headers.limit is not None
                budget.burst_limit = headers.limit
                budget.blocked_until = max(budget.blocked_until, now + (headers.reset or 1.0))
                budget.next_at = max(budget.next_at, budget.blocked_until)
                return
            if headers.limit is not None:
                budget.limit = headers.limit
            budget.remaining = headers.remaining
            budget.reset_at = now + headers.reset if headers.reset is not None else None
            # The pace follows what Tiny just said, sooner or later than the estimate taken when
            # the slot was given.
            budget.next_at = budget.last_slot + self._interval(budget, now)

    def block(self, key: str, seconds: float) -> None:
        """No call for this account for `seconds` (after a 429)."""
        with self._lock:
            budget = self._budgets.setdefault(key, _Budget())
            budget.blocked_until = max(budget.blocked_until, self._clock() + seconds)

    def _interval(self, budget: _Budget, at: float) -> float:
        fresh = budget.reset_at is not None and budget.remaining is not None and budget.reset_at > at
        if not fresh:
            # Nothing current to go by (headers missing, or their window is over): the plan's
            # per-minute limit spread evenly when known, else the fallback pace.
            return 60.0 / budget.limit if budget.limit else self._fallback
        assert budget.reset_at is not None and budget.remaining is not None
        until_reset = budget.reset_at - at
        burst = self._burst_interval(budget)
        if budget.remaining <= 0:
            return until_reset
        threshold = max(3, math.ceil(budget.limit * self._low_water)) if budget.limit else 5
        if budget.remaining <= threshold:
            # Spread, but never wider than a wait the caller sleeps through: on the smallest
            # plan (30 a minute) an even spread would be ~7 s a call, each a RateLimited and a
            # rescheduled poll, whose page listed but not imported is listed again. At worst the
            # last call waits for the reset once a minute.
            return max(burst, min(until_reset / budget.remaining, self._max_wait))
        return burst

    def _burst_interval(self, budget: _Budget) -> float:
        if budget.burst_limit:
            # A little slower than the bucket Tiny named: a call that arrives late packs the next
            # second, and each 429 costs a second.
            return max(self._burst, 1.05 / budget.burst_limit)
        return self._burst


def _is_burst_bucket(budget: _Budget, headers: RateLimitHeaders) -> bool:
    """Whether a 429 came from the per-second bucket: a reset within a second, and a limit below
    the minute's (when the minute's is known)."""
    if headers.limit is None or headers.reset is None or headers.reset > 1:
        return False
    return budget.limit is None or headers.limit < budget.limit
