"""What change events tell a board's flusher: moved ranks, whom to re-query, the top,
the period."""

from __future__ import annotations

from domain.leaderboards.models import ChangeEvent, PlayerRank, Position, RankedEntry
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


def answer(position: Position, rank: int, stamp: int = 0) -> PlayerRank:
    return PlayerRank(position.player_id, rank, -position.score, position, "all", {0: stamp})


def test_a_re_query_older_than_an_own_write_keeps_the_written_position() -> None:
    marks = watching(a=-10.0)
    seq, since = marks.seq("a"), marks.begin_query()
    moved = pos("a", -50.0, 2)
    marks.apply(write("a", pos("a", -10.0), moved), {"a"})
    # Read before the write landed: not taken.
    assert not marks.requeried("a", answer(pos("a", -10.0), 3), seq, since)
    assert marks.positions.get("a") == moved and "a" in marks.dirty
    assert marks.requeried("a", answer(moved, 1), marks.seq("a"), since)
    marks.end_query()
    assert marks.positions.get("a") == moved and marks.ranks["a"] == 1


def anchored(player_id: str, stored: float, rank: int, stamp: int) -> BoardMarks:
    """Marks watching one player whose exact rank was read, counted up to `stamp`."""
    marks = watching()
    mark = marks.begin_query()
    marks.requeried(player_id, answer(pos(player_id, stored), rank, stamp=stamp), 0, mark)
    marks.end_query()
    return marks


def test_a_write_passing_an_anchored_subscriber_moves_its_rank_without_a_re_query() -> None:
    marks = anchored("a", -10.0, rank=4, stamp=5)
    marks.apply(ChangeEvent("write", "all", "x", None, pos("x", -20.0), 6), {"a"})
    assert marks.ranks["a"] == 5 and marks.shifted == {"a"} and not marks.dirty
    # x falls behind a again.
    marks.apply(ChangeEvent("write", "all", "x", pos("x", -20.0), pos("x", -5.0), 7), {"a"})
    assert marks.ranks["a"] == 4
    # An event the re-query already counted (stamped at or before it) changes nothing.
    marks.apply(ChangeEvent("write", "all", "y", None, pos("y", -30.0), 5), {"a"})
    assert marks.ranks["a"] == 4


def test_events_during_a_re_query_are_replayed_on_its_answer() -> None:
    marks = watching(a=-10.0)
    mark = marks.begin_query()
    marks.apply(ChangeEvent("write", "all", "x", None, pos("x", -20.0), 6), {"a"})
    marks.apply(ChangeEvent("write", "all", "y", None, pos("y", -30.0), 8), {"a"})
    # The answer counted up to stamp 6: x is in its rank, y is not.
    marks.requeried("a", answer(pos("a", -10.0), 2, stamp=6), 0, mark)
    marks.end_query()
    assert marks.ranks["a"] == 3


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


def test_an_own_write_takes_back_a_rank_that_events_moved_until_its_re_query() -> None:
    # Pushing the moved rank beside the new score would show a pair that never was.
    marks = anchored("a", -10.0, rank=4, stamp=5)
    marks.apply(ChangeEvent("write", "all", "x", None, pos("x", -20.0), 6), {"a"})
    assert marks.shifted == {"a"}
    marks.apply(ChangeEvent("write", "all", "a", pos("a", -10.0), pos("a", -50.0, 7), 7), {"a"})
    assert not marks.shifted and marks.dirty == {"a"}
