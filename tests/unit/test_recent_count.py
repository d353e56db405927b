"""The gateway's logins of the last minute (gameserver/metrics.py RecentCount)."""

from __future__ import annotations

from gameserver.metrics import RecentCount


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_events_count_for_a_minute_then_drop_out() -> None:
    clock = _Clock()
    recent = RecentCount(60, clock)
    recent.add()
    clock.now += 0.5
    recent.add(2)
    clock.now = 1030.0
    recent.add()
    assert recent.total() == 4
    clock.now = 1059.9
    assert recent.total() == 4
    clock.now = 1060.0  # the events of second 1000 are a minute old
    assert recent.total() == 1
    clock.now = 1090.0
    assert recent.total() == 0
