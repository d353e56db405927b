"""A board's push states, one event at a time: event -> next state -> what is pushed.

Pure: no server, no socket (a socket here is its `busy` flag), no Valkey (a query's
answer is given as the `PlayerRank` it would read).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from domain.leaderboards.models import ChangeEvent, PlayerRank, Position, RankedEntry
from gameserver.push.board_state import (
    LIFE_TRANSITIONS,
    RANK_TRANSITIONS,
    TOP_TRANSITIONS,
    BoardLife,
    BoardState,
    InvalidTransition,
    LifeEvent,
    RankEvent,
    RankPush,
    RankState,
    Subscription,
    TopEvent,
    TopState,
    next_rank_state,
)


@dataclass(eq=False)
class Socket:
    busy: bool = False


def pos(player_id: str, score: float, stamp: int = 1) -> Position:
    return Position(-score, stamp, player_id)  # a desc board stores -score


def found(player_id: str, score: float, rank: int, counted_up_to: int = 0) -> PlayerRank:
    return PlayerRank(player_id, rank, score, pos(player_id, score), "all", {0: counted_up_to})


def write(player_id: str, old: float | None, new: float | None, at: int) -> ChangeEvent:
    return ChangeEvent(
        "write",
        "all",
        player_id,
        None if old is None else pos(player_id, old),
        None if new is None else pos(player_id, new, at),
        at,
    )


def moved_pushes(state: BoardState) -> list[RankPush]:
    return [push for chunk in state.take_moved(2) for push in chunk]


def board() -> BoardState:
    return BoardState("desc", "all")


def subscribed(
    state: BoardState, player_id: str, score: float, rank: int, *, top: int = 0, at: int = 5
) -> Subscription:
    """`player_id` subscribed and answered: its exact rank counted up to stamp `at`."""
    joining = state.join(player_id, Socket(), top)  # type: ignore[arg-type]
    assert state.joined(joining, found(player_id, score, rank, at)) == rank
    return joining.subscription


def test_a_joining_subscriber_gets_no_push_before_its_reply() -> None:
    state = board()
    joining = state.join("a", Socket(), 10)  # type: ignore[arg-type]
    assert joining.subscription.state is RankState.JOINING
    state.on_change(write("x", None, 20.0, 6), 0.0)
    assert moved_pushes(state) == []
    assert state.take_top([{"player_id": "x"}], 10) == []
    state.joined(joining, found("a", 10.0, 2, 6))
    assert joining.subscription.state is RankState.CURRENT
    assert [p.subscriptions for p in state.take_top([{"player_id": "x"}], 10)] == [
        [joining.subscription]
    ]


def test_events_during_a_join_are_counted_in_its_reply() -> None:
    state = board()
    joining = state.join("a", Socket(), 0)  # type: ignore[arg-type]
    state.on_change(write("x", None, 20.0, 6), 0.0)
    state.on_change(write("y", None, 30.0, 7), 0.0)
    # The answer counted up to stamp 6: x is in it, y is not.
    assert state.joined(joining, found("a", 10.0, 2, 6)) == 3
    assert joining.subscription.state is RankState.CURRENT and moved_pushes(state) == []


def test_an_event_passing_an_anchored_subscriber_pushes_its_moved_rank_once() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    state.on_change(write("x", None, 20.0, 6), 0.0)
    assert a.state is RankState.MOVED and state.stale == 0
    assert moved_pushes(state) == [RankPush(a, 5, 4, 10.0)]
    assert a.state is RankState.CURRENT and a.rank == 5
    assert moved_pushes(state) == []


def test_a_rank_moved_back_to_the_one_told_pushes_nothing() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    state.on_change(write("x", None, 20.0, 6), 0.0)
    state.on_change(write("x", 20.0, 5.0, 7), 0.0)
    assert a.state is RankState.MOVED
    assert moved_pushes(state) == [] and a.state is RankState.CURRENT


def test_a_busy_socket_gets_its_moved_ranks_coalesced_into_one_later_push() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    a.connection.busy = True
    state.on_change(write("x", None, 20.0, 6), 0.0)
    assert moved_pushes(state) == [] and a.state is RankState.MOVED
    state.on_change(write("y", None, 30.0, 7), 0.0)
    a.connection.busy = False
    assert moved_pushes(state) == [RankPush(a, 6, 4, 10.0)]


def test_a_rank_moved_then_taken_back_between_chunks_is_not_pushed() -> None:
    # A flush hands the event loop back between chunks: an own write that comes then
    # leaves that subscriber to its re-query (one push per subscriber and flush).
    state = board()
    subs = [subscribed(state, p, 10.0 - i, rank=4 + i) for i, p in enumerate("abc")]
    state.on_change(write("x", None, 20.0, 6), 0.0)
    chunks = state.take_moved(1)
    first = next(chunks)
    for i, p in enumerate("abc"):
        state.on_change(write(p, 10.0 - i, 50.0 + i, 7 + i), 0.0)
    rest = [push for chunk in chunks for push in chunk]
    assert len(first) == 1 and rest == []
    assert all(s.state is RankState.STALE for s in subs)


def test_an_unanchored_subscriber_passed_by_an_event_is_re_queried() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    state.marks.new_period("all")  # (the anchors forgotten, as after a reset)
    state.on_change(write("x", None, 20.0, 6), 0.0)
    assert a.state is RankState.STALE and moved_pushes(state) == []


def test_a_re_query_pushes_the_answer_only_when_it_differs_from_what_was_told() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    b = subscribed(state, "b", 5.0, rank=7)
    state.recheck_all()
    assert (a.state, b.state) == (RankState.STALE, RankState.STALE)
    requery = state.start_requery()
    assert {s.player_id for s in requery.subscriptions} == {"a", "b"}
    assert a.state is RankState.QUERYING
    assert state.settle(requery, a, found("a", 10.0, 4, 9)) is None
    assert state.settle(requery, b, found("b", 5.0, 8, 9)) == RankPush(b, 8, 7, 5.0)
    state.end_requery(requery)
    assert (a.state, b.state) == (RankState.CURRENT, RankState.CURRENT)


def test_an_own_write_during_a_re_query_drops_its_answer_and_asks_again() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    state.recheck_all()
    requery = state.start_requery()
    state.on_change(write("a", 10.0, 50.0, 8), 0.0)
    assert a.state is RankState.STALE
    # Read before the write landed: not told.
    assert state.settle(requery, a, found("a", 10.0, 4, 7)) is None
    state.end_requery(requery)
    assert a.state is RankState.STALE
    requery = state.start_requery()
    assert state.settle(requery, a, found("a", 50.0, 1, 8)) == RankPush(a, 1, 4, 50.0)


def test_an_own_write_takes_back_a_moved_rank_until_its_re_query() -> None:
    # Pushing the moved rank beside the new score would show a pair that never was.
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    state.on_change(write("x", None, 20.0, 6), 0.0)
    state.on_change(write("a", 10.0, 50.0, 7), 0.0)
    assert a.state is RankState.STALE and moved_pushes(state) == []


def test_a_failed_re_query_leaves_its_subscribers_stale() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    state.recheck_all()
    requery = state.start_requery()
    state.requery_failed(requery)
    state.end_requery(requery)
    assert a.state is RankState.STALE and state.stale == 1


def test_a_subscriber_that_left_is_never_pushed_again() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4, top=5)
    state.on_change(write("x", None, 20.0, 6), 0.0)
    assert state.leave("a", a.connection)
    assert a.state is RankState.GONE and state.moved == 0 and moved_pushes(state) == []
    assert state.take_top([{"player_id": "x"}], 5) == []
    assert not state.leave("a", a.connection)


def test_a_newer_join_ends_the_subscription_it_replaces() -> None:
    state = board()
    old = subscribed(state, "a", 10.0, rank=4)
    joining = state.join("a", Socket(), 0)  # type: ignore[arg-type]
    assert old.state is RankState.GONE and state.subscriptions["a"] is joining.subscription


def test_a_failed_join_restores_the_subscription_it_replaced_to_be_re_queried() -> None:
    state = board()
    old = subscribed(state, "a", 10.0, rank=4, top=3)
    joining = state.join("a", Socket(), 0)  # type: ignore[arg-type]
    state.join_failed(joining)
    restored = state.subscriptions["a"]
    assert restored.connection is old.connection and restored.top == 3 and restored.rank == 4
    assert restored.state is RankState.STALE and state.stale == 1


def test_a_failed_first_join_leaves_no_subscription() -> None:
    state = board()
    joining = state.join("a", Socket(), 0)  # type: ignore[arg-type]
    state.join_failed(joining)
    assert state.subscriptions == {} and joining.subscription.state is RankState.GONE


def test_an_own_write_during_a_join_answers_what_was_read_then_re_queries() -> None:
    state = board()
    joining = state.join("a", Socket(), 0)  # type: ignore[arg-type]
    state.on_change(write("a", None, 50.0, 6), 0.0)
    assert joining.subscription.state is RankState.JOINING_STALE
    assert state.joined(joining, found("a", 10.0, 4, 5)) == 4
    assert joining.subscription.state is RankState.STALE


def test_a_reset_re_queries_everyone_and_joining_subscribers_after_their_reply() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    joining = state.join("b", Socket(), 0)  # type: ignore[arg-type]
    state.on_change(ChangeEvent("reset", "all.1"), 0.0)
    assert state.marks.period == "all.1" and state.top is TopState.DIRTY
    assert a.state is RankState.STALE
    assert joining.subscription.state is RankState.JOINING_STALE
    # Its answer, read in the old period: not on the new board.
    assert state.joined(joining, found("b", 5.0, 2)) is None
    assert joining.subscription.state is RankState.STALE


def test_a_gap_re_queries_everyone_and_checks_the_period_at_once() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    state.on_gap()
    assert a.state is RankState.STALE and state.top is TopState.DIRTY
    assert state.life is BoardLife.IN_DOUBT and state.next_deadline() == 0.0


def test_an_event_of_an_unknown_period_is_checked_and_a_new_period_re_queries_all() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4)
    state.on_change(replace(write("x", None, 20.0, 6), period="all.1"), 0.0)
    assert state.life is BoardLife.IN_DOUBT and a.state is RankState.CURRENT
    assert state.start_period_check(1.0) is True
    assert state.life is BoardLife.RECHECKING
    state.period_read("all.1")
    assert state.life is BoardLife.LIVE and a.state is RankState.STALE
    assert state.marks.period == "all.1"


def test_a_doubt_during_a_period_check_outlives_its_answer() -> None:
    state = board()
    assert state.start_period_check(1.0) is False  # a routine check
    state.on_gap()
    state.period_read("all")
    assert state.life is BoardLife.IN_DOUBT


def test_a_failed_check_keeps_a_doubt_and_forgets_a_routine_check() -> None:
    state = board()
    state.start_period_check(1.0)
    state.period_check_failed()
    assert state.life is BoardLife.LIVE
    state.on_gap()
    state.start_period_check(1.0)
    state.period_check_failed()
    assert state.life is BoardLife.IN_DOUBT


def test_a_write_during_a_top_read_reads_the_top_again() -> None:
    state = board()
    subscribed(state, "a", 10.0, rank=4, top=2)
    assert state.top is TopState.DIRTY  # a subscriber with a top wants one at once
    state.start_top()
    state.top_read([RankedEntry(1, "t1", 90), RankedEntry(2, "t2", 80)], 2)
    state.recheck_all()
    assert state.start_top() == 2 and state.top is TopState.FETCHING
    # Far below the top last read, but the read out may not have seen it.
    state.on_change(write("x", None, 1.0, 6), 0.0)
    assert state.top is TopState.FETCHING_DIRTY
    state.top_read([], 2)
    assert state.top is TopState.DIRTY


def test_writes_below_a_full_top_leave_it_clean() -> None:
    state = board()
    subscribed(state, "a", 10.0, rank=4, top=2)
    state.start_top()
    state.top_read([RankedEntry(1, "t1", 90), RankedEntry(2, "t2", 80)], 2)
    assert state.top is TopState.CLEAN
    state.on_change(write("x", None, 70.0, 6), 0.0)
    assert state.top is TopState.CLEAN
    state.on_change(write("y", None, 85.0, 7), 0.0)
    assert state.top is TopState.DIRTY


def test_no_top_wanted_reads_nothing() -> None:
    state = board()
    subscribed(state, "a", 10.0, rank=4, top=0)
    state.recheck_all()
    assert state.start_top() == 0 and state.top is TopState.CLEAN


def entries(n: int) -> list[dict[str, Any]]:
    return [{"rank": i + 1, "player_id": f"t{i}"} for i in range(n)]


def test_one_top_length_shares_one_frame_and_an_unchanged_slice_is_not_sent() -> None:
    state = board()
    short = [subscribed(state, p, 1.0, rank=9, top=2) for p in ("a", "b", "c")]
    long = subscribed(state, "d", 1.0, rank=9, top=3)
    pushes = state.take_top(entries(3), 3)
    assert [(p.entries, p.subscriptions) for p in pushes] == [
        (entries(2), short),
        (entries(3), [long]),
    ]
    assert state.take_top(entries(3), 3) == []


def test_only_the_subscribers_of_one_length_shown_another_slice_get_the_new_one() -> None:
    state = board()
    told, late = (subscribed(state, p, 1.0, rank=9, top=2) for p in ("a", "b"))
    state.take_top(entries(2), 2)
    late.shown_top = [{"rank": 1, "player_id": "old"}]
    fresh = subscribed(state, "c", 1.0, rank=9, top=2)
    pushes = state.take_top(entries(2), 2)
    assert [p.subscriptions for p in pushes] == [[late, fresh]]
    assert told.shown_top == late.shown_top == fresh.shown_top == entries(2)


def test_a_busy_socket_s_top_is_coalesced_into_a_later_read() -> None:
    state = board()
    a = subscribed(state, "a", 1.0, rank=9, top=2)
    state.start_top()
    state.top_read([], 2)
    a.connection.busy = True
    assert state.take_top(entries(2), 2) == [] and state.top is TopState.DIRTY
    a.connection.busy = False
    assert [p.subscriptions for p in state.take_top(entries(2), 2)] == [[a]]


def test_a_longer_top_joined_during_a_read_is_left_for_the_next_read() -> None:
    state = board()
    a = subscribed(state, "a", 1.0, rank=9, top=2)
    assert state.start_top() == 2
    b = subscribed(state, "b", 1.0, rank=9, top=5)
    state.top_read([], 2)
    assert [p.subscriptions for p in state.take_top(entries(2), 2)] == [[a]]
    assert b.shown_top is None and state.top is TopState.DIRTY


def test_a_deleted_board_tells_ready_subscribers_null_and_an_empty_top() -> None:
    state = board()
    a = subscribed(state, "a", 10.0, rank=4, top=2)
    a.shown_top = entries(2)
    state.join("b", Socket(), 2)  # type: ignore[arg-type]  # still joining: told nothing
    state.on_change(ChangeEvent("delete", "all"), 0.0)
    assert state.life is BoardLife.DELETED and state.next_deadline() == 0.0
    ranks, tops = state.farewells()
    assert ranks == [RankPush(a, None, 4, None)]
    assert [(p.entries, p.subscriptions) for p in tops] == [([], [a])]


def test_a_subscription_is_gone_for_good() -> None:
    for event in RankEvent:
        assert next_rank_state(RankState.GONE, event) is RankState.GONE


def test_what_a_channel_says_has_an_answer_in_every_state() -> None:
    # Channel events and leaves come at any moment: no state may miss them.
    for state, row in RANK_TRANSITIONS.items():
        for event in (
            RankEvent.PASSED,
            RankEvent.UNANCHORED,
            RankEvent.OWN_WRITE,
            RankEvent.RECHECK,
            RankEvent.LEFT,
        ):
            assert event in row, (state, event)
    for top_state, top_row in TOP_TRANSITIONS.items():
        assert {TopEvent.TOUCHED, TopEvent.WRITE} <= set(top_row), top_state
    for life, life_row in LIFE_TRANSITIONS.items():
        assert {LifeEvent.DOUBT, LifeEvent.DELETED} <= set(life_row), life


def test_an_answer_to_a_query_never_sent_is_a_bug() -> None:
    with pytest.raises(InvalidTransition):
        next_rank_state(RankState.CURRENT, RankEvent.EXACT)
    with pytest.raises(InvalidTransition):
        next_rank_state(RankState.STALE, RankEvent.PUSHED)
