"""Per-account rate limit and fault injection: what makes the sandbox as unreliable as the real Tiny."""

from __future__ import annotations

import math
import random
from typing import Any

import attrs

WINDOW = 60.0
# Tiny's published read budgets per minute, smallest plan first; the sandbox defaults to the
# smallest (where most small merchants are) with the 4-a-second burst bucket measured on it.
PLANS = (30, 60, 120, 140)
DEFAULT_PLAN = PLANS[0]
DEFAULT_BURST = 4


@attrs.frozen
class Budget:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window resets


@attrs.define
class RateLimiter:
    """A fixed one-minute window per account, as integrators measured on Tiny, plus an optional
    per-second burst bucket. Each bucket answers its 429 with its own figures, as Tiny does: the
    burst bucket `Limit: 4, Remaining: 0, Reset: 1`, the minute its limit and the seconds left.
    Not thread-safe: the account's lock guards it."""

    per_minute: int = DEFAULT_PLAN
    burst: int = DEFAULT_BURST  # calls per second on top of the minute budget; 0 = no burst limit
    _window_start: float = -math.inf
    _used: int = 0
    _second: int = -1
    _second_used: int = 0

    def take(self, now: float) -> Budget:
        if now >= self._window_start + WINDOW:
            self._window_start, self._used = now, 0
        reset = max(1, math.ceil(self._window_start + WINDOW - now))
        if self.per_minute <= 0:
            return Budget(True, 0, 0, reset)
        if self._used >= self.per_minute:
            return Budget(False, self.per_minute, 0, reset)
        if self.burst > 0:
            second = int(now)
            if second != self._second:
                self._second, self._second_used = second, 0
            if self._second_used >= self.burst:
                return Budget(False, self.burst, 0, 1)
            self._second_used += 1
        self._used += 1
        return Budget(True, self.per_minute, self.per_minute - self._used, reset)

    def peek(self, now: float) -> Budget:
        """The budget as it stands, without spending a call."""
        if now >= self._window_start + WINDOW:
            return Budget(True, self.per_minute, self.per_minute, math.ceil(WINDOW))
        remaining = max(0, self.per_minute - self._used)
        return Budget(remaining > 0, self.per_minute, remaining, max(1, math.ceil(self._window_start + WINDOW - now)))

    def reset(self) -> None:
        self._window_start, self._used, self._second, self._second_used = -math.inf, 0, -1, 0


@attrs.define
class Faults:
    """Faults for one scope (the API, or the token endpoint) of one account.

    Rates draw from the account's own seeded generator; the `force_*` queues make a test's
    faults exact: the next calls answer them in order, whatever the rates say.
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    force_errors: list[int] = attrs.field(factory=list)
    force_429: int = 0
    force_slow: int = 0
    storm_until: float = 0.0  # epoch seconds: every call answers 429 until then
    # Only these calls (counter names, e.g. "GET /pedidos/{idPedido}") get the faults; empty: all.
    endpoints: tuple[str, ...] = ()
    # Exact faults that leave the request NOT carried out (as when the failure is in front of
    # Keycloak): the next N calls hang `hang_seconds` then answer 504 (a client with a shorter
    # timeout sees a timeout), or have their connection dropped without an answer.
    force_hang: int = 0
    hang_seconds: float = 5.0
    force_reset: int = 0
    # Token endpoint only: the next N calls answer 400 invalid_grant ("Token is not active"),
    # as Keycloak does for a refresh token it no longer accepts.
    force_invalid_grant: int = 0
    # The next N calls are carried out (a refresh rotates the token), then answered after
    # `late_seconds`: an answer in flight, for a worker stopped or a database lost meanwhile.
    force_late: int = 0
    late_seconds: float = 0.0

    FIELDS = ("latency_ms", "error_rate", "error_statuses", "slow_rate", "slow_seconds", "force_errors",
              "force_429", "force_slow", "storm_until", "endpoints", "force_hang", "hang_seconds", "force_reset",
              "force_invalid_grant", "force_late", "late_seconds")
    _COUNTS = ("force_429", "force_slow", "force_hang", "force_reset", "force_invalid_grant", "force_late")

    def copy(self) -> Faults:
        return attrs.evolve(self, force_errors=list(self.force_errors))

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a control-API change; raises ValueError naming the bad field."""
        for key, value in changes.items():
            if key not in self.FIELDS:
                raise ValueError(f"unknown field: {key}")
            try:
                if key == "endpoints":
                    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                        raise ValueError
                    self.endpoints = tuple(value)
                elif key in ("error_statuses", "force_errors"):
                    statuses = [int(v) for v in value]
                    if any(not 400 <= s <= 599 for s in statuses):
                        raise ValueError
                    setattr(self, key, tuple(statuses) if key == "error_statuses" else statuses)
                elif key in self._COUNTS:
                    setattr(self, key, max(0, int(value)))
                elif key in ("error_rate", "slow_rate"):
                    rate = float(value)
                    if not 0.0 <= rate <= 1.0:
                        raise ValueError
                    setattr(self, key, rate)
                else:
                    setattr(self, key, max(0.0, float(value)))
            except (TypeError, ValueError):
                raise ValueError(f"invalid value for {key}: {value!r}") from None

    def as_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v := getattr(self, k), (list, tuple)) else v) for k in self.FIELDS}


@attrs.frozen
class Verdict:
    """What fault injection decided for one call: a status to answer instead, and a delay
    before deciding; or a dropped connection, a refusal, an answer sent late."""

    status: int | None = None
    delay: float = 0.0
    reset: bool = False
    invalid_grant: bool = False
    late: float = 0.0


def decide(faults: Faults, rng: random.Random, now: float, endpoint: str | None = None) -> Verdict:
    """Consume the forced queues first, then roll the dice. Caller holds the account lock."""
    delay = faults.latency_ms / 1000.0
    if faults.endpoints and endpoint not in faults.endpoints:
        return Verdict(None, delay)
    if faults.force_slow > 0:
        faults.force_slow -= 1
        delay += faults.slow_seconds
    elif faults.slow_rate and rng.random() < faults.slow_rate:
        delay += faults.slow_seconds
    if faults.force_hang > 0:
        faults.force_hang -= 1
        return Verdict(504, delay + faults.hang_seconds)
    if faults.force_reset > 0:
        faults.force_reset -= 1
        return Verdict(None, delay, reset=True)
    if faults.force_invalid_grant > 0:
        faults.force_invalid_grant -= 1
        return Verdict(None, delay, invalid_grant=True)
    if faults.force_late > 0:
        faults.force_late -= 1
        return Verdict(None, delay, late=faults.late_seconds)
    if now < faults.storm_until:
        return Verdict(429, delay)
    if faults.force_429 > 0:
        faults.force_429 -= 1
        return Verdict(429, delay)
    if faults.force_errors:
        return Verdict(faults.force_errors.pop(0), delay)
    if faults.error_rate and rng.random() < faults.error_rate:
        return Verdict(rng.choice(faults.error_statuses or (500,)), delay)
    return Verdict(None, delay)
