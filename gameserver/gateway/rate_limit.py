"""A token bucket: the per-socket message rate limit."""

from __future__ import annotations

import time


class TokenBucket:
    __slots__ = ("_rate", "_burst", "_tokens", "_updated")  # one per open socket

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic()

    def try_take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
