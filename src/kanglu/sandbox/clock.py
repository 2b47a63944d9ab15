"""The sandbox's sense of time: the wall clock, moved forward on request so tests and demos can
let tokens and rate-limit windows expire without waiting."""

from __future__ import annotations

import threading
import time
from zoneinfo import ZoneInfo

# Tiny's dates are São Paulo's.
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
DAY = 86_400
HOUR = 3_600


class SandboxClock:
    """Epoch seconds. Real time plus an offset by default; a clock built with `start` stands
    still and moves only when advanced (for tests that must not depend on timing)."""

    def __init__(self, start: float | None = None) -> None:
        self._start = start
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def manual(self) -> bool:
        return self._start is not None

    def now(self) -> float:
        base = self._start if self._start is not None else time.time()
        return base + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
        return self.now()
