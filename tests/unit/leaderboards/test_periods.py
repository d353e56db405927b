"""Periods: ids and ends in UTC, labels after resets, label validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.errors import BadRequest
from domain.leaderboards.models import Board, BoardConfig, Reset
from domain.leaderboards.periods import (
    key_ttl_s,
    live_label,
    period_end,
    period_id,
    require_label,
)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("reset", "moment", "expected", "end"),
    [
        ("never", at(2026, 11, 26, 9), "all", None),
        ("daily", at(2026, 11, 26, 23, 59, 59), "2026-11-26", at(2026, 11, 27)),
        ("daily", at(2026, 11, 27), "2026-11-27", at(2026, 11, 28)),
        ("weekly", at(2026, 11, 29, 23, 59, 59), "2026-W48", at(2026, 11, 30)),
        ("weekly", at(2026, 11, 30), "2026-W49", at(2026, 12, 7)),
        ("weekly", at(2027, 1, 1, 12), "2026-W53", at(2027, 1, 4)),
        ("monthly", at(2026, 12, 31, 23, 59), "2026-12", at(2027, 1, 1)),
        ("monthly", at(2027, 1, 1), "2027-01", at(2027, 2, 1)),
    ],
)
def test_periods_are_utc_calendar_periods(
    reset: Reset, moment: float, expected: str, end: float | None
) -> None:
    assert period_id(reset, moment) == expected
    assert period_end(reset, moment) == end


def _board(reset: Reset, retention_s: int = 100) -> Board:
    return Board(BoardConfig("b", reset=reset, retention_s=retention_s), gen=1, version=1)


def test_a_reset_starts_a_new_label_in_the_same_period() -> None:
    board = _board("weekly")
    moment = at(2026, 11, 26)
    assert live_label(board, moment) == "2026-W48"
    reset_twice = replace(board, reset_period="2026-W48", reset_count=2)
    assert live_label(reset_twice, moment) == "2026-W48.2"
    # The next period starts with its plain label.
    assert live_label(reset_twice, at(2026, 11, 30)) == "2026-W49"
    never = replace(_board("never"), reset_period="all", reset_count=1)
    assert live_label(never, moment) == "all.1"


def test_keys_live_until_the_period_ends_plus_retention() -> None:
    moment = at(2026, 11, 26, 23, 59, 0)
    assert key_ttl_s(_board("daily"), moment) == 60 + 100
    assert key_ttl_s(_board("never"), moment) == 0


@pytest.mark.parametrize(
    ("reset", "good", "bad"),
    [
        ("never", ["all", "all.2"], ["2026-11", "all.0", "all.", "x"]),
        (
            "daily",
            ["2026-11-26", "2026-11-26.1", "2028-02-29"],
            ["2026-11", "2026-W48", "all", "2026-13-01", "2026-12-32", "2027-02-29", "0000-01-01"],
        ),
        (
            "weekly",
            ["2026-W48", "2026-W48.12", "2026-W53"],
            ["2026-48", "2026-11-26", "2026-W60", "2026-W00", "2027-W53"],
        ),
        ("monthly", ["2026-11", "2026-11.3"], ["2026-11-26", "all", 5, "2026-13", "2026-00"]),
    ],
)
def test_period_labels_are_checked_per_kind(
    reset: Reset, good: list[str], bad: list[object]
) -> None:
    board = _board(reset)
    for label in good:
        assert require_label(board, label) == label
    for wrong in bad:
        with pytest.raises(BadRequest):
            require_label(board, wrong)
