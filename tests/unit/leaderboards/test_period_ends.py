"""Which periods have ended (pure), their bounds, and the webhook's backoff and signature."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest

from domain.leaderboards.models import Board, BoardConfig
from domain.leaderboards.period_ends import PeriodEndJob
from domain.leaderboards.periods import ended_periods, period_bounds
from gameserver.workers.period_ends import backoff_s, sign

DAY = 86400.0
MAR_4 = datetime(2030, 3, 4, tzinfo=UTC).timestamp()  # a Monday


def _board(created_at: float = 0.0, **config: object) -> Board:
    return Board(BoardConfig(name="b", **config), gen=1, version=1, created_at=created_at)  # type: ignore[arg-type]


def test_a_tournament_has_ended_once_its_end_at_is_reached() -> None:
    board = _board(end_at=int(MAR_4) + 10)
    assert ended_periods(board, MAR_4 + 9.9) == []
    assert ended_periods(board, MAR_4 + 10) == [("all", MAR_4 + 10, "end_at")]


def test_ends_name_period_ids_and_leave_labels_to_the_claim() -> None:
    board = Board(
        BoardConfig(name="b", end_at=int(MAR_4) + 10), 1, 2, reset_period="all", reset_count=2
    )
    assert ended_periods(board, MAR_4 + 11) == [("all", MAR_4 + 10, "end_at")]


def test_daily_periods_end_at_midnight_and_only_after_the_board_existed() -> None:
    board = _board(created_at=MAR_4 - 2 * DAY + 5, reset="daily")
    assert ended_periods(board, MAR_4 + 1) == [
        ("2030-03-03", MAR_4, "rollover"),
        ("2030-03-02", MAR_4 - DAY, "rollover"),
    ]
    assert ended_periods(_board(created_at=MAR_4 + 1, reset="daily"), MAR_4 + 2) == []


def test_ended_periods_older_than_the_retention_are_gone() -> None:
    board = _board(reset="daily", retention_s=3600)
    assert ended_periods(board, MAR_4 + 3599) == [("2030-03-03", MAR_4, "rollover")]
    assert ended_periods(board, MAR_4 + 3600) == []


def test_calendar_periods_after_a_tournament_end_are_not_ends() -> None:
    board = _board(created_at=MAR_4 - 2 * DAY + 5, reset="daily", end_at=int(MAR_4) - 3600)
    # The day the window closed in ends at end_at, not at midnight; later days never start.
    assert ended_periods(board, MAR_4 + DAY + 1) == [
        ("2030-03-03", MAR_4 - 3600, "end_at"),
        ("2030-03-02", MAR_4 - DAY, "rollover"),
    ]


def test_period_bounds_of_weekly_monthly_and_windowed_boards() -> None:
    assert period_bounds(_board(reset="weekly"), "2030-W10.2") == (MAR_4, MAR_4 + 7 * DAY)
    march = datetime(2030, 3, 1, tzinfo=UTC).timestamp()
    april = datetime(2030, 4, 1, tzinfo=UTC).timestamp()
    assert period_bounds(_board(reset="monthly"), "2030-03") == (march, april)
    assert period_bounds(_board(start_at=5, end_at=9), "all") == (5, 9)
    assert period_bounds(_board(), "all.1") == (None, None)


def test_weekly_periods_end_at_monday_midnight() -> None:
    board = _board(reset="weekly")
    # A Wednesday: week 10 began on Monday, week 9 ended then.
    assert ended_periods(board, MAR_4 + 2 * DAY + 1) == [("2030-W09", MAR_4, "rollover")]


def test_a_period_that_ended_as_the_board_was_created_is_not_an_end() -> None:
    board = _board(created_at=MAR_4, reset="daily")
    assert ended_periods(board, MAR_4 + DAY + 1) == [("2030-03-04", MAR_4 + DAY, "rollover")]


def test_a_window_closing_at_midnight_ends_the_day_before_once() -> None:
    board = _board(created_at=MAR_4 - 2 * DAY + 5, reset="daily", end_at=int(MAR_4))
    # The day that ended at midnight ended with the window: one end, by `end_at`.
    assert ended_periods(board, MAR_4 + 1) == [
        ("2030-03-03", MAR_4, "end_at"),
        ("2030-03-02", MAR_4 - DAY, "rollover"),
    ]


def test_a_window_closing_a_second_after_midnight_ends_the_new_day() -> None:
    board = _board(created_at=MAR_4 - 1, reset="daily", end_at=int(MAR_4) + 1)
    assert ended_periods(board, MAR_4 + 2) == [
        ("2030-03-04", MAR_4 + 1, "end_at"),
        ("2030-03-03", MAR_4, "rollover"),
    ]


def test_period_bounds_of_a_daily_board_are_its_day_narrowed_to_the_window() -> None:
    board = _board(reset="daily", start_at=int(MAR_4) + 600, end_at=int(MAR_4 + 2 * DAY) - 600)
    # The window opens and closes inside a day: those days are bounded by the window.
    assert period_bounds(board, "2030-03-04") == (MAR_4 + 600, MAR_4 + DAY)
    assert period_bounds(board, "2030-03-05.1") == (MAR_4 + DAY, MAR_4 + 2 * DAY - 600)
    assert period_bounds(_board(reset="daily"), "2030-03-04") == (MAR_4, MAR_4 + DAY)


def test_period_bounds_are_utc_whatever_the_servers_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nine hours east of UTC (POSIX form, no tz database needed): local midnight is
    # 15:00 UTC of the day before, so a local reading lands in the previous period.
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    try:
        assert period_bounds(_board(reset="daily"), "2030-03-04") == (MAR_4, MAR_4 + DAY)
        assert period_bounds(_board(reset="weekly"), "2030-W10") == (MAR_4, MAR_4 + 7 * DAY)
        march = datetime(2030, 3, 1, tzinfo=UTC).timestamp()
        april = datetime(2030, 4, 1, tzinfo=UTC).timestamp()
        assert period_bounds(_board(reset="monthly"), "2030-03") == (march, april)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_webhook_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_s(n, 1.0, 5.0) for n in (1, 2, 3, 4, 60)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_the_signature_is_the_hmac_sha256_of_the_body() -> None:
    expected = hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    assert sign(b"k", b"{}") == f"sha256={expected}"


def test_a_job_survives_its_json_form() -> None:
    job = PeriodEndJob("cup:1:all", "cup", 1, "all", 12.5, "end_at", url="https://x.test/e")
    job.cursor, job.attempts = "abc", 2
    assert PeriodEndJob.from_json(job.id, job.to_json()) == job
