"""Pacing of one board's pushes: intervals from the end of a flush, the quiet-board backstop."""

from __future__ import annotations

from gameserver.push.board_schedule import FlushSchedule, PushPacing

PACING = PushPacing(rank_interval_s=0.1, top_interval_s=0.1, settle_s=0.3, resync_s=30.0)


def test_a_first_flush_is_due_at_once() -> None:
    schedule = FlushSchedule(PACING, now=100.0)
    assert schedule.ranks_due(100.0) and schedule.top_due(100.0)
    assert schedule.next_deadline(ranks_dirty=True, top_dirty=False) <= 100.0


def test_the_next_flush_waits_an_interval_after_the_last_one_ended() -> None:
    schedule = FlushSchedule(PACING, now=100.0)
    schedule.ranks_flushed(100.25)  # a slow query: counted from its end
    assert not schedule.ranks_due(100.3)
    assert schedule.ranks_due(100.35)
    assert schedule.next_deadline(ranks_dirty=True, top_dirty=False) == 100.35
    assert schedule.top_due(100.3)  # ranks and top are paced apart


def test_nothing_dirty_sleeps_until_a_periodic_check() -> None:
    schedule = FlushSchedule(PACING, now=100.0)
    assert schedule.next_deadline(ranks_dirty=False, top_dirty=False) == 100.0 + 5.0
    assert not schedule.period_check_due(104.0)
    assert schedule.period_check_due(105.0)
    schedule.period_checked(105.0)
    assert not schedule.period_check_due(106.0)


def test_a_board_gone_quiet_is_re_queried_once() -> None:
    schedule = FlushSchedule(PACING, now=100.0)
    assert not schedule.take_full_refresh(101.0)
    schedule.event_seen(101.0)
    schedule.event_seen(101.2)  # still busy: the backstop waits for quiet
    assert schedule.next_deadline(ranks_dirty=False, top_dirty=False) == 101.5
    assert not schedule.take_full_refresh(101.4)
    assert schedule.take_full_refresh(101.5)
    assert not schedule.take_full_refresh(102.0)


def test_a_full_resync_comes_round_even_without_events() -> None:
    schedule = FlushSchedule(PACING, now=100.0)
    assert not schedule.take_full_refresh(129.9)
    assert schedule.take_full_refresh(130.0)
    assert not schedule.take_full_refresh(130.1)
    assert schedule.take_full_refresh(160.0)


def test_a_long_flush_does_not_pass_for_a_quiet_board() -> None:
    # Events that arrive while a flush holds the event loop are read after it: the
    # quiet period starts when the flush ends.
    schedule = FlushSchedule(PACING, now=100.0)
    schedule.event_seen(101.0)
    schedule.ranks_flushed(101.4)
    assert not schedule.take_full_refresh(101.5)
    assert schedule.next_deadline(ranks_dirty=False, top_dirty=False) == 101.7
    assert schedule.take_full_refresh(101.7)
