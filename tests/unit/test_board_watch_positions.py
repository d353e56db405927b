"""The push layer's sorted index of watched positions agrees with the domain rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.leaderboards.models import ChangeEvent, Position
from domain.leaderboards.rules import moved_subscribers, touches_top
from gameserver.push.board_positions import WatchedPositions

small_scores = st.integers(min_value=-5, max_value=5).map(float)
player_ids = st.text(alphabet="abcdefgh0123", min_size=1, max_size=4)


@st.composite
def watched_and_event(draw: st.DrawFn) -> tuple[dict[str, Position], ChangeEvent]:
    ids = draw(st.lists(player_ids, min_size=1, max_size=15, unique=True))
    watched = {pid: Position(draw(small_scores), draw(st.integers(0, 5)), pid) for pid in ids[1:]}
    writer = ids[0]
    old = draw(st.one_of(st.none(), small_scores))
    new = draw(st.one_of(st.none(), small_scores))
    old_p = None if old is None else Position(old, draw(st.integers(0, 5)), writer)
    new_p = None if new is None else Position(new, draw(st.integers(0, 9)), writer)
    if old_p is not None and draw(st.booleans()):
        watched[writer] = old_p  # the writer may be a watched player too
    kind = "remove" if new_p is None else "write"
    return watched, ChangeEvent(kind, "all", writer, old_p, new_p, 1)  # type: ignore[arg-type]


def _index(watched: dict[str, Position]) -> WatchedPositions:
    index = WatchedPositions()
    for player_id, position in watched.items():
        index.place(player_id, position)
    return index


@given(watched_and_event())
def test_the_moved_players_are_those_the_rules_say(
    case: tuple[dict[str, Position], ChangeEvent],
) -> None:
    watched, event = case
    expected = moved_subscribers(event, watched) - {event.player_id}
    assert _index(watched).moved_by(event) == expected


@given(st.dictionaries(player_ids, small_scores, max_size=12), st.data())
def test_placing_and_discarding_keep_the_index_consistent(
    scores: dict[str, float], data: st.DataObject
) -> None:
    index = WatchedPositions()
    for step, (player_id, score) in enumerate(scores.items()):
        index.place(player_id, Position(score, step, player_id))
    gone = data.draw(st.sets(st.sampled_from(sorted(scores)))) if scores else set()
    for player_id in gone:
        index.discard(player_id)
    index.discard("never-placed")
    assert len(index) == len(scores) - len(gone)
    everyone = ChangeEvent("write", "all", "x-writer", None, Position(-99.0, 0, "x-writer"), 1)
    assert index.moved_by(everyone) == set(scores) - gone


def test_reset_and_delete_move_everyone() -> None:
    index = _index({"a": Position(1.0, 1, "a"), "b": Position(2.0, 1, "b")})
    assert index.moved_by(ChangeEvent("reset", "all.1")) == {"a", "b"}
    assert index.moved_by(ChangeEvent("delete", "all")) == {"a", "b"}


def test_a_position_must_belong_to_its_player() -> None:
    with pytest.raises(ValueError):
        WatchedPositions().place("a", Position(1.0, 1, "b"))


@given(watched_and_event(), st.integers(1, 5))
def test_a_bound_by_score_alone_touches_whenever_the_exact_one_does(
    case: tuple[dict[str, Position], ChangeEvent], size: int
) -> None:
    # The feed knows the top's last score, not its stamp: it bounds with the latest stamp.
    watched, event = case
    top = sorted(watched.values())[:size]
    if len(top) < size:
        return
    exact = touches_top(event, top[-1], True)
    by_score = touches_top(event, Position(top[-1].score, 2**64, ""), True)
    assert by_score or not exact
