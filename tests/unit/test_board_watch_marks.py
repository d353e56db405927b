"""What change events mark for a board's flusher: moved subscribers, the top, the period."""

from __future__ import annotations

from domain.leaderboards.models import ChangeEvent, Position, RankedEntry
from gameserver.push.board_marks import BoardMarks


def pos(player_id: str, stored: float, stamp: int = 1) -> Position:
    return Position(stored, stamp, player_id)


def write(player_id: str, old: Position | None, new: Position | None) -> ChangeEvent:
    return ChangeEvent("write", "all", player_id, old, new, 1)


def watching(**stored: float) -> BoardMarks:
    marks = BoardMarks("desc", "all")
    for player_id, score in stored.items():
        marks.positions.place(player_id, pos(player_id, score))
    return marks


def test_a_write_passing_a_subscriber_marks_it_and_no_one_else() -> None:
    marks = watching(a=-10.0, b=-30.0)  # desc: a has 10, b has 30
    marks.apply(write("x", None, pos("x", -20.0)), {"a", "b"})
    assert marks.dirty == {"a"}


def test_an_own_write_marks_the_writer_and_moves_its_position() -> None:
    marks = watching(a=-10.0)
    moved = pos("a", -50.0, 2)
    marks.apply(write("a", pos("a", -10.0), moved), {"a"})
    assert marks.dirty == {"a"} and marks.positions.get("a") == moved
    assert marks.seq("a") == 1


def test_a_re_query_older_than_an_own_write_keeps_the_written_position() -> None:
    marks = watching(a=-10.0)
    seq = marks.seq("a")
    moved = pos("a", -50.0, 2)
    marks.apply(write("a", pos("a", -10.0), moved), {"a"})
    marks.requeried("a", pos("a", -10.0), seq)  # read before the write landed
    assert marks.positions.get("a") == moved
    marks.requeried("a", moved, marks.seq("a"))
    assert marks.positions.get("a") == moved


def test_events_of_another_period_put_the_period_in_doubt_only() -> None:
    marks = watching(a=-10.0)
    marks.apply(ChangeEvent("write", "all.1", "x", None, pos("x", -20.0), 1), {"a"})
    assert marks.period_in_doubt and not marks.dirty and not marks.top_dirty


def test_a_reset_marks_everyone_and_takes_the_new_period() -> None:
    marks = watching(a=-10.0)
    marks.apply(ChangeEvent("reset", "all.1"), {"a", "joining"})
    assert marks.dirty == {"a", "joining"} and marks.top_dirty and marks.period == "all.1"


def test_a_delete_ends_the_feed() -> None:
    marks = watching()
    marks.apply(ChangeEvent("delete", "all"), set())
    assert marks.deleted


def test_writes_below_a_full_top_leave_it_alone() -> None:
    marks = watching()
    top = [RankedEntry(1, "t1", 90), RankedEntry(2, "t2", 80)]
    marks.top_seen(top, limit=2)
    marks.apply(write("x", None, pos("x", -70.0)), set())
    assert not marks.top_dirty
    marks.apply(write("y", None, pos("y", -80.0, 99)), set())  # ties with the last: maybe
    assert marks.top_dirty


def test_every_write_touches_a_top_that_is_not_full_or_being_read() -> None:
    marks = watching()
    marks.top_seen([RankedEntry(1, "t1", 90)], limit=2)
    marks.apply(write("x", None, pos("x", -1.0)), set())
    assert marks.top_dirty

    marks = watching()
    marks.top_seen([RankedEntry(1, "t1", 90)], limit=1)
    marks.top_fetching = True
    marks.apply(write("x", None, pos("x", -1.0)), set())
    assert marks.top_dirty


def test_forgetting_a_player_drops_its_marks() -> None:
    marks = watching(a=-10.0)
    marks.apply(write("a", pos("a", -10.0), pos("a", -20.0, 2)), {"a"})
    marks.forget("a")
    assert "a" not in marks.positions and not marks.dirty and marks.seq("a") == 0
