"""Periods at their edges: UTC whatever the host's zone, the last second of a period, a
reset count of zero, and the message of a wrong label."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.errors import BadRequest
from domain.leaderboards.models import Board, BoardConfig, Reset
from domain.leaderboards.periods import key_ttl_s, live_label, period_end, period_id, require_label


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: float = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() + second


def _board(reset: Reset, retention_s: int = 100) -> Board:
    return Board(BoardConfig("b", reset=reset, retention_s=retention_s), gen=1, version=1)


@pytest.fixture
def host_far_east_of_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A POSIX zone string: 14 hours ahead of UTC, no tz database needed.
    monkeypatch.setenv("TZ", "FAR-14")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("host_far_east_of_utc")
def test_periods_are_utc_whatever_the_host_s_time_zone() -> None:
    late = at(2026, 11, 26, 23, 30)
    assert period_id("daily", late) == "2026-11-26"
    assert period_end("daily", late) == at(2026, 11, 27)
    assert period_id("monthly", at(2026, 11, 30, 20)) == "2026-11"
    assert period_end("weekly", at(2026, 11, 29, 20)) == at(2026, 11, 30)


def test_a_key_written_in_the_last_instant_lives_at_least_a_second() -> None:
    end = at(2026, 11, 27)
    assert key_ttl_s(_board("daily", retention_s=0), end - 0.5) == 1
    assert key_ttl_s(_board("daily", retention_s=0), end - 2.5) == 3


def test_a_reset_count_of_zero_keeps_the_plain_label() -> None:
    board = replace(_board("weekly"), reset_period="2026-W48", reset_count=0)
    assert live_label(board, at(2026, 11, 26)) == "2026-W48"


def test_a_wrong_label_names_the_period_kind_and_the_board() -> None:
    with pytest.raises(BadRequest) as exc:
        require_label(_board("weekly"), "2026-11")
    assert exc.value.message == "period is not a weekly period of board b"
