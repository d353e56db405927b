"""The rank arithmetic of a board's pushes: ranks moved by events, ranks that need a
re-query, answers taken or refused, the top's bound."""

from __future__ import annotations

from domain.leaderboards.models import ChangeEvent, PlayerRank, Position, RankedEntry
from gameserver.push.board_marks import BoardMarks, Moves, Settled


def pos(player_id: str, stored: float, stamp: int = 1) -> Position:
    return Position(stored, stamp, player_id)


def write(player_id: str, old: Position | None, new: Position | None) -> ChangeEvent:
    return ChangeEvent("write", "all", player_id, old, new, 1)


def watching(**stored: float) -> BoardMarks:
    marks = BoardMarks("desc", "all")
    for player_id, score in stored.items():
        marks.positions.place(player_id, pos(player_id, score))
    return marks


def test_a_write_passing_an_unanchored_subscriber_asks_for_it_and_no_one_else() -> None:
    marks = watching(a=-10.0, b=-30.0)  # desc: a has 10, b has 30
    moves = marks.apply(write("x", None, pos("x", -20.0)), {"a", "b"})
    assert moves == Moves(unanchored={"a"})


def test_an_own_write_is_told_and_moves_the_writer_s_position() -> None:
    marks = watching(a=-10.0)
    moved = pos("a", -50.0, 2)
    moves = marks.apply(write("a", pos("a", -10.0), moved), {"a"})
    assert moves == Moves(own_write=True) and marks.positions.get("a") == moved
    assert marks.seq("a") == 1


def answer(position: Position, rank: int, stamp: int = 0) -> PlayerRank:
    return PlayerRank(position.player_id, rank, -position.score, position, "all", {0: stamp})


def test_a_re_query_older_than_an_own_write_keeps_the_written_position() -> None:
    marks = watching(a=-10.0)
    seq, since = marks.seq("a"), marks.begin_query()
    moved = pos("a", -50.0, 2)
    marks.apply(write("a", pos("a", -10.0), moved), {"a"})
    # Read before the write landed: not taken.
    assert marks.requeried("a", answer(pos("a", -10.0), 3), seq, since) is Settled.OVERTAKEN
    assert marks.positions.get("a") == moved
    assert marks.requeried("a", answer(moved, 1), marks.seq("a"), since) is Settled.EXACT
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
    moves = marks.apply(ChangeEvent("write", "all", "x", None, pos("x", -20.0), 6), {"a"})
    assert marks.ranks["a"] == 5 and moves == Moves(moved={"a"})
    # x falls behind a again.
    marks.apply(ChangeEvent("write", "all", "x", pos("x", -20.0), pos("x", -5.0), 7), {"a"})
    assert marks.ranks["a"] == 4
    # An event the re-query already counted (stamped at or before it) changes nothing.
    moves = marks.apply(ChangeEvent("write", "all", "y", None, pos("y", -30.0), 5), {"a"})
    assert marks.ranks["a"] == 4 and moves == Moves()


def test_events_during_a_re_query_are_replayed_on_its_answer() -> None:
    marks = watching(a=-10.0)
    mark = marks.begin_query()
    marks.apply(ChangeEvent("write", "all", "x", None, pos("x", -20.0), 6), {"a"})
    marks.apply(ChangeEvent("write", "all", "y", None, pos("y", -30.0), 8), {"a"})
    # The answer counted up to stamp 6: x is in its rank, y is not.
    marks.requeried("a", answer(pos("a", -10.0), 2, stamp=6), 0, mark)
    marks.end_query()
    assert marks.ranks["a"] == 3


def test_a_new_period_unanchors_every_rank() -> None:
    marks = anchored("a", -10.0, rank=4, stamp=5)
    marks.new_period("all.1")
    moves = marks.apply(ChangeEvent("write", "all.1", "x", None, pos("x", -20.0), 6), {"a"})
    assert marks.period == "all.1" and moves == Moves(unanchored={"a"})


def test_an_answer_of_another_period_takes_the_player_off_the_board() -> None:
    marks = anchored("a", -10.0, rank=4, stamp=5)
    marks.new_period("all.1")
    mark = marks.begin_query()
    assert marks.requeried("a", answer(pos("a", -10.0), 4), 0, mark) is Settled.EXACT
    marks.end_query()
    assert "a" not in marks.ranks and "a" not in marks.positions


def test_writes_below_a_full_top_leave_it_alone() -> None:
    marks = watching()
    top = [RankedEntry(1, "t1", 90), RankedEntry(2, "t2", 80)]
    marks.top_seen(top, limit=2)
    assert not marks.touches_top(write("x", None, pos("x", -70.0)))
    assert marks.touches_top(write("y", None, pos("y", -80.0, 99)))  # ties with the last


def test_every_write_touches_a_top_that_is_not_full() -> None:
    marks = watching()
    marks.top_seen([RankedEntry(1, "t1", 90)], limit=2)
    assert marks.touches_top(write("x", None, pos("x", -1.0)))


def test_forgetting_a_player_drops_its_marks() -> None:
    marks = watching(a=-10.0)
    marks.apply(write("a", pos("a", -10.0), pos("a", -20.0, 2)), {"a"})
    marks.forget("a")
    assert "a" not in marks.positions and marks.seq("a") == 0
