"""Which periods may still hold entries (export and erasure walk them all)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.leaderboards.periods import kept_bases

DAY = 86400


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_never_reset_board_keeps_one_period() -> None:
    assert kept_bases("never", 7 * DAY, at("2026-12-07T05:00:00")) == ["all"]


def test_daily_periods_are_kept_while_their_retention_lasts() -> None:
    now = at("2026-12-07T05:00:00")
    # 2026-12-05 ended at midnight of the 6th, 29 h ago: inside 2 days of retention.
    assert kept_bases("daily", 2 * DAY, now) == ["2026-12-07", "2026-12-06", "2026-12-05"]
    assert kept_bases("daily", 0, now) == ["2026-12-07"]


def test_weekly_and_monthly_periods_over_their_retention() -> None:
    now = at("2026-12-07T05:00:00")  # a Monday: week 50 began 5 hours ago
    assert kept_bases("weekly", 7 * DAY, now) == ["2026-W50", "2026-W49"]
    # October ended 36 days ago: past 30 days of retention, within 40.
    assert kept_bases("monthly", 30 * DAY, now) == ["2026-12", "2026-11"]
    assert kept_bases("monthly", 40 * DAY, now) == ["2026-12", "2026-11", "2026-10"]


def test_a_period_is_gone_the_moment_its_retention_runs_out() -> None:
    now = at("2026-12-07T05:00:00")
    # 2026-12-05 ended at midnight of the 6th, 29 h ago: exactly its retention.
    assert kept_bases("daily", 29 * 3600, now) == ["2026-12-07", "2026-12-06"]
    assert kept_bases("daily", 29 * 3600 + 1, now) == ["2026-12-07", "2026-12-06", "2026-12-05"]
