"""A token bucket: the per-socket message rate limit, and how long a socket keeps over it."""

from __future__ import annotations

import time
from collections.abc import Callable

# Refusals at most this far apart belong to one stretch over the limit.
_STREAK_GAP_S = 1.0


class TokenBucket:
    # One per open socket: slots, no per-instance dict.
    __slots__ = (
        "_rate",
        "_burst",
        "_tokens",
        "_updated",
        "_clock",
        "_close_after_s",
        "_over_since",
        "_refused_at",
        "flooding",
    )

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        close_after_s: float = float("inf"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._updated = clock()
        self._close_after_s = close_after_s
        self._over_since = 0.0
        self._refused_at = float("-inf")
        # True once refusals went on without a pause of a second for `close_after_s`.
        self.flooding = False

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def try_take(self) -> bool:
        now = self._clock()
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        if now - self._refused_at > _STREAK_GAP_S:
            self._over_since = now
        self._refused_at = now
        if now - self._over_since >= self._close_after_s:
            self.flooding = True
        return False

    def wait_s(self) -> float:
        """Seconds until the next take would succeed (0 if it would now); takes nothing."""
        self._refill(self._clock())
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self._rate
