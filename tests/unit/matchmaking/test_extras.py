"""Queue extras as pure rules: strict configs, match_on, free-for-all fill, backfill fit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import BadRequest
from domain.matchmaking.models import (
    QueueConfig,
    SkillWindow,
    TicketProperties,
    parse_backfill_open,
)
from domain.matchmaking.rules import Candidate, form_matches, plan_backfill

NOW = 1_000.0
WIDE = SkillWindow(100.0, 0.0, 100.0)


def solo(ticket_id: str, skill: float = 25.0, waited: float = 0.0, **kw: object) -> Candidate:
    return Candidate(ticket_id, (ticket_id,), skill, 9.0, NOW - waited, **kw)  # type: ignore[arg-type]


def test_a_queue_config_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(BadRequest, match="unknown queue fields: colour"):
        QueueConfig.from_dict({"name": "q", "colour": "red"})


def test_every_field_a_queue_stores_parses_back_to_the_same_queue() -> None:
    for raw in (
        {"name": "q", "match_on": ["mode", "map"], "allocator": "https://alloc.example/x"},
        {"name": "ffa", "min_players": 3, "max_players": 8, "fill_wait_s": 4},
    ):
        queue = QueueConfig.from_dict(raw)
        assert QueueConfig.from_dict(queue.to_dict()) == queue


@pytest.mark.parametrize(
    "raw",
    [
        {"match_on": "mode"},
        {"match_on": ["mode", "mode"]},
        {"match_on": ["region"]},
        {"match_on": ["bad name!"]},
        {"allocator": "ftp://alloc.example/"},
        {"allocator": "https://"},
        {"allocator": "http://host:99999/"},
        {"allocator": "http://ho st/"},
        {"max_players": 4, "teams": 2},
        {"min_players": 2},
        {"max_players": 4, "min_players": 5},
        {"max_players": 1},
        {"max_players": 4, "parties": True},
    ],
)
def test_bad_queue_settings_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        QueueConfig.from_dict({"name": "q", **raw})


def test_a_free_for_all_queue_takes_no_parties_and_one_player_per_team() -> None:
    queue = QueueConfig.from_dict({"name": "ffa", "max_players": 6, "min_players": 3})
    assert queue.free_for_all and not queue.parties
    assert (queue.players_per_match, queue.fewest_players, queue.team_size) == (6, 3, 1)


def test_a_ticket_without_a_match_on_property_is_refused() -> None:
    queue = QueueConfig(name="q", match_on=("mode",))
    with pytest.raises(BadRequest, match="properties.mode"):
        TicketProperties.parse({"map": "x"}, queue)
    with pytest.raises(BadRequest):
        TicketProperties.parse({"mode": 3}, queue)


def test_match_on_values_pick_the_partition_and_other_properties_are_carried() -> None:
    queue = QueueConfig(name="q", match_on=("mode", "map"))
    a = TicketProperties.parse({"mode": "ctf", "map": "x", "skin": 4, "latency": {}}, queue)
    b = TicketProperties.parse({"mode": "ctf", "map": "y"}, queue)
    c = TicketProperties.parse({"map": "x", "mode": "ctf"}, queue)
    assert queue.partition_of(a.region, a.values) == queue.partition_of(c.region, c.values)
    assert queue.partition_of(a.region, a.values) != queue.partition_of(b.region, b.values)
    # Values that a naive join would spell alike stay apart.
    d = TicketProperties.parse({"mode": "a|b", "map": "c"}, queue)
    e = TicketProperties.parse({"mode": "a", "map": "b|c"}, queue)
    assert queue.partition_of(None, d.values) != queue.partition_of(None, e.values)
    assert a.carried == {"mode": "ctf", "map": "x", "skin": 4}


def test_carried_properties_are_bounded() -> None:
    with pytest.raises(BadRequest):
        TicketProperties.parse({"blob": "x" * 2000}, QueueConfig(name="q"))


def ffa(min_players: int = 3, max_players: int = 5, fill_wait_s: float = 10.0) -> QueueConfig:
    return QueueConfig.from_dict(
        {
            "name": "ffa",
            "min_players": min_players,
            "max_players": max_players,
            "fill_wait_s": fill_wait_s,
            "window_start": 100.0,
            "window_widen_per_s": 0.0,
        }
    )


def test_a_free_for_all_match_takes_the_maximum_when_it_can() -> None:
    pool = [solo(f"t{i}", waited=30.0) for i in range(7)]
    [plan] = form_matches(ffa(), pool, NOW)
    assert len(plan.teams) == 5 and all(len(team) == 1 for team in plan.teams)


def test_a_free_for_all_match_below_the_maximum_waits_for_fill_wait() -> None:
    fresh = [solo(f"t{i}", waited=9.0) for i in range(3)]
    assert form_matches(ffa(), fresh, NOW) == []
    ripe = [solo(f"t{i}", waited=10.0) for i in range(3)]
    [plan] = form_matches(ffa(), ripe, NOW)
    assert len(plan.teams) == 3


def test_a_free_for_all_match_never_has_fewer_than_the_minimum() -> None:
    pool = [solo(f"t{i}", waited=60.0) for i in range(2)]
    assert form_matches(ffa(), pool, NOW) == []


def test_a_team_queue_never_starts_short() -> None:
    queue = QueueConfig(name="q", team_size=2, window=WIDE)
    assert form_matches(queue, [solo(f"t{i}", waited=600.0) for i in range(3)], NOW) == []


def test_a_backfill_takes_the_oldest_tickets_that_fit_its_window_and_room() -> None:
    queue = QueueConfig(name="q", team_size=3, window=SkillWindow(2.0, 0.0, 2.0))
    far = solo("far", skill=40.0, waited=50.0)
    old = solo("old", skill=26.0, waited=20.0)
    new = solo("new", skill=24.0, waited=1.0)
    newer = solo("newer", skill=25.0, waited=0.5)
    added, left = plan_backfill(queue, [(1, 2)], 25.0, None, [far, old, new, newer], NOW)
    assert [(t, c.ticket_id) for t, c in added] == [(1, "old"), (1, "new")]
    assert left == []


def test_a_backfill_skips_a_party_too_big_for_the_room_and_keeps_slots_open() -> None:
    queue = QueueConfig(name="q", team_size=3, window=WIDE)
    big = Candidate("big", ("a", "b"), 50.0, 18.0, NOW - 9.0)
    added, left = plan_backfill(queue, [(0, 1)], 25.0, None, [big], NOW)
    assert added == [] and left == [(0, 1)]


def test_a_backfill_respects_the_matchs_host_region() -> None:
    queue = QueueConfig(name="q", window=WIDE, max_latency_ms=50.0)
    us_only = solo("us", regions=frozenset({"us"}))
    anywhere = solo("any")
    added, _ = plan_backfill(queue, [(0, 2)], 25.0, "eu", [us_only, anywhere], NOW)
    assert [c.ticket_id for _, c in added] == ["any"]


def test_a_backfill_takes_a_ticket_at_the_very_edge_of_its_window_not_past_it() -> None:
    queue = QueueConfig(name="q", team_size=3, window=SkillWindow(1.0, 1.0, 10.0))
    # Waited 1 s: a window of 2. A fresh ticket's window is 1, however long others waited.
    edge = solo("edge", skill=27.0, waited=1.0)
    fresh = solo("fresh", skill=23.5)
    added, left = plan_backfill(queue, [(0, 2)], 25.0, None, [edge, fresh], NOW)
    assert [c.ticket_id for _, c in added] == ["edge"]
    assert left == [(0, 1)]


def test_a_backfill_passes_over_a_party_too_big_and_takes_a_later_ticket_that_fits() -> None:
    queue = QueueConfig(name="q", team_size=3, window=WIDE)
    big = Candidate("big", ("a", "b"), 50.0, 18.0, NOW - 9.0)
    added, left = plan_backfill(queue, [(0, 1)], 25.0, None, [big, solo("small")], NOW)
    assert [c.ticket_id for _, c in added] == ["small"]
    assert left == []


def test_a_backfill_fills_the_team_with_most_room_first_the_lower_on_a_tie() -> None:
    queue = QueueConfig(name="q", team_size=3, window=WIDE)
    oldest_first = [solo(f"t{i}", waited=10.0 - i) for i in range(4)]
    added, left = plan_backfill(queue, [(0, 1), (1, 2), (2, 1)], 25.0, None, oldest_first, NOW)
    assert [(t, c.ticket_id) for t, c in added] == [(1, "t0"), (0, "t1"), (1, "t2"), (2, "t3")]
    assert left == []


def test_a_backfill_adds_up_the_slots_a_team_is_given_twice() -> None:
    queue = QueueConfig(name="q", team_size=3, window=WIDE)
    oldest_first = [solo(f"t{i}", waited=10.0 - i) for i in range(3)]
    added, left = plan_backfill(queue, [(1, 1), (1, 1)], 25.0, None, oldest_first, NOW)
    assert [(t, c.ticket_id) for t, c in added] == [(1, "t0"), (1, "t1")]
    assert left == []


def test_a_backfill_opens_slots_on_a_team_of_the_match_only() -> None:
    teams = [["a", "b"], ["c"]]
    assert parse_backfill_open([{"team": 1, "slots": 1}, {"team": 1, "slots": 1}], teams) == [
        (1, 2)
    ]
    for bad in (
        [{"team": 2, "slots": 1}],
        [{"team": -1, "slots": 1}],
        [{"team": 0, "slots": 0}],
        [{"team": 0, "slots": 98}],
        [],
        [{"team": 1}],
        {"team": 1, "slots": 1},
    ):
        with pytest.raises(BadRequest):
            parse_backfill_open(bad, teams)


def test_the_same_tickets_make_the_same_match_id_whatever_their_order() -> None:
    from domain.matchmaking.settle import new_match_id

    assert new_match_id("c", ["t1", "t2"]) == new_match_id("c", ["t2", "t1"])
    assert new_match_id("c", ["t1", "t2"]) != new_match_id("c", ["t1", "t3"])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 8),
    st.integers(0, 6),
    st.floats(0.0, 20.0),
    st.lists(st.tuples(st.floats(15.0, 35.0), st.floats(0.0, 30.0)), max_size=60),
)
def test_free_for_all_matches_are_within_bounds_and_short_only_after_the_fill_wait(
    min_players: int, extra: int, fill_wait_s: float, rows: list[tuple[float, float]]
) -> None:
    queue = QueueConfig.from_dict(
        {
            "name": "ffa",
            "min_players": min_players,
            "max_players": min_players + extra,
            "fill_wait_s": fill_wait_s,
            "window_start": 3.0,
        }
    )
    pool = [solo(f"t{i}", skill, waited) for i, (skill, waited) in enumerate(rows)]
    plans = form_matches(queue, pool, NOW)
    seen = [c.ticket_id for plan in plans for c in plan.tickets]
    assert len(seen) == len(set(seen))
    for plan in plans:
        size = len(plan.teams)
        assert all(len(team) == 1 for team in plan.teams)
        assert queue.fewest_players <= size <= queue.players_per_match
        if size < queue.players_per_match:
            oldest = min(c.created_at for c in plan.tickets)
            # The rule as the worker states it (its own float arithmetic): made before
            # `now - fill_wait_s`.
            assert oldest <= NOW - fill_wait_s
