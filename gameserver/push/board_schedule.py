"""When a board's flusher acts: push pacing, the quiet-board backstop, periodic checks.

Pure timekeeping (times are `time.monotonic()` seconds), so the coalescing rules can be
tested without a clock or a cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PushPacing:
    # At most one rank.changed per subscriber and board, and one board.top, per interval.
    rank_interval_s: float = 0.1
    top_interval_s: float = 0.1
    # A board quiet this long after activity gets one full re-query: a pub/sub message
    # lost (delivery is at most once, e.g. in a failover) can't leave a rank stale.
    settle_s: float = 0.3
    # Daily, weekly and monthly boards change period without any event: look this often.
    period_check_s: float = 5.0
    # A full re-query even without activity: events lost in a failover leave no trace.
    resync_s: float = 30.0


class FlushSchedule:
    def __init__(self, pacing: PushPacing, now: float) -> None:
        self.pacing = pacing
        self._ranks_flushed_at = -math.inf
        self._top_flushed_at = -math.inf
        self._last_event = now
        self._settle_pending = False
        self._period_check_at = now + pacing.period_check_s
        self._resync_at = now + pacing.resync_s

    def event_seen(self, now: float) -> None:
        self._last_event = now
        self._settle_pending = True

    # Flushes count from their end, once their pushes are out: two pushes to one
    # subscriber are then at least an interval apart however long the queries took.

    def ranks_flushed(self, now: float) -> None:
        self._ranks_flushed_at = now

    def top_flushed(self, now: float) -> None:
        self._top_flushed_at = now

    def ranks_due(self, now: float) -> bool:
        return now >= self._ranks_flushed_at + self.pacing.rank_interval_s

    def top_due(self, now: float) -> bool:
        return now >= self._top_flushed_at + self.pacing.top_interval_s

    def period_check_due(self, now: float) -> bool:
        return now >= self._period_check_at

    def period_checked(self, now: float) -> None:
        self._period_check_at = now + self.pacing.period_check_s

    def take_full_refresh(self, now: float) -> bool:
        """Whether every subscriber is due a re-query now (quiet after activity, or the
        periodic resync); each occasion answers True once."""
        full = False
        if now >= self._resync_at:
            self._resync_at = now + self.pacing.resync_s
            full = True
        if self._settle_pending and now >= self._quiet_since + self.pacing.settle_s:
            self._settle_pending = False
            full = True
        return full

    @property
    def _quiet_since(self) -> float:
        # A flush keeps the event loop busy: events that came meanwhile are read only
        # after it. Quiet counts from the last event or the end of the last flush,
        # whichever is later, so a long flush never passes for a quiet board.
        return max(self._last_event, self._ranks_flushed_at, self._top_flushed_at)

    def next_deadline(self, *, ranks_dirty: bool, top_dirty: bool) -> float:
        """The next moment something may be due; the flusher sleeps until then (or an event)."""
        deadlines = [self._period_check_at, self._resync_at]
        if ranks_dirty:
            deadlines.append(self._ranks_flushed_at + self.pacing.rank_interval_s)
        if top_dirty:
            deadlines.append(self._top_flushed_at + self.pacing.top_interval_s)
        if self._settle_pending:
            deadlines.append(self._quiet_since + self.pacing.settle_s)
        return min(deadlines)
