from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.matchmaking.models import QueueConfig, SkillWindow
from domain.matchmaking.rules import Candidate, expired, form_matches

NOW = 1_000.0
REGIONS = ("eu", "us")


def solo(ticket_id: str, skill: float, waited: float = 0.0, **kw: object) -> Candidate:
    return Candidate(ticket_id, (ticket_id,), skill, 9.0, NOW - waited, **kw)  # type: ignore[arg-type]


def party(ticket_id: str, skills: list[float], waited: float = 0.0) -> Candidate:
    players = tuple(f"{ticket_id}.{i}" for i in range(len(skills)))
    return Candidate(ticket_id, players, sum(skills), 9.0 * len(skills), NOW - waited)


@dataclass
class Scenario:
    queue: QueueConfig
    pool: list[Candidate]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    team_size = draw(st.integers(1, 3))
    start = draw(st.floats(0.0, 8.0))
    queue = QueueConfig(
        name="q",
        team_size=team_size,
        teams=draw(st.integers(2, 3)),
        window=SkillWindow(start, draw(st.floats(0.0, 2.0)), start + draw(st.floats(0.0, 10.0))),
        same_region=draw(st.booleans()),
        max_latency_ms=draw(st.sampled_from([None, 100.0])),
    )
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from([1, 1, 1, *range(1, team_size + 1)]),
                st.floats(20.0, 30.0),
                st.floats(0.0, 30.0),
                st.sampled_from(REGIONS),
                st.none() | st.frozensets(st.sampled_from(REGIONS), min_size=1),
            ),
            min_size=draw(st.integers(0, 40)),
            max_size=80,
        )
    )
    pool = [
        Candidate(
            ticket_id=f"t{i}",
            players=tuple(f"t{i}.{k}" for k in range(size)),
            mu_sum=skill * size,
            sigma2_sum=9.0 * size,
            created_at=NOW - waited,
            region=region,
            regions=regions if queue.max_latency_ms is not None else None,
        )
        for i, (size, skill, waited, region, regions) in enumerate(rows)
    ]
    return Scenario(queue, pool)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_every_match_obeys_the_queue_rules(scenario: Scenario) -> None:
    queue = scenario.queue
    plans = form_matches(queue, scenario.pool, NOW)
    seen_tickets: set[str] = set()
    seen_players: set[str] = set()
    for plan in plans:
        # No ticket and no player in two matches.
        ids = [c.ticket_id for c in plan.tickets]
        players = [p for team in plan.player_teams for p in team]
        assert seen_tickets.isdisjoint(ids) and len(set(ids)) == len(ids)
        assert seen_players.isdisjoint(players) and len(set(players)) == len(players)
        seen_tickets.update(ids)
        seen_players.update(players)
        # Team count and sizes exact; each party whole inside one team.
        assert len(plan.teams) == queue.teams
        assert all(len(team) == queue.team_size for team in plan.player_teams)
        for team, names in zip(plan.teams, plan.player_teams, strict=True):
            assert names == tuple(p for c in team for p in c.players)
        # Every member is inside every other member's skill window.
        for x, y in itertools.permutations(plan.tickets, 2):
            assert abs(x.skill - y.skill) <= queue.window.at(NOW - x.created_at) + 1e-9
        if queue.same_region:
            assert len({c.region for c in plan.tickets}) == 1
            assert plan.region == plan.tickets[0].region
        if queue.max_latency_ms is not None:
            constrained = [c.regions for c in plan.tickets if c.regions is not None]
            if constrained:
                assert plan.region is not None
                assert all(plan.region in r for r in constrained)
        assert abs(sum(plan.win_probabilities) - 1.0) < 1e-9


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(20.0, 30.0), st.floats(0.0, 20.0)), max_size=40),
    st.floats(0.0, 3.0),
)
def test_a_duel_pass_leaves_no_two_compatible_tickets_waiting(
    rows: list[tuple[float, float]], start: float
) -> None:
    queue = QueueConfig(name="duel", window=SkillWindow(start, 0.2, start + 3.0))
    pool = [solo(f"t{i}", skill, waited) for i, (skill, waited) in enumerate(rows)]
    matched = {c.ticket_id for p in form_matches(queue, pool, NOW) for c in p.tickets}
    waiting = [c for c in pool if c.ticket_id not in matched]
    for x, y in itertools.combinations(waiting, 2):
        gap = abs(x.skill - y.skill)
        assert gap > queue.window.at(NOW - x.created_at) or gap > queue.window.at(
            NOW - y.created_at
        )


@settings(max_examples=200, deadline=None)
@given(
    st.floats(15.0, 35.0),
    st.floats(15.0, 35.0),
    st.floats(0.0, 20.0),
    st.floats(0.0, 20.0),
    st.floats(0.0, 20.0),
    st.floats(0.0, 3.0),
    st.floats(0.1, 2.0),
)
def test_waiting_only_ever_widens_who_a_ticket_can_meet(
    skill_a: float,
    skill_b: float,
    waited_a: float,
    waited_b: float,
    later: float,
    start: float,
    widen: float,
) -> None:
    queue = QueueConfig(name="duel", window=SkillWindow(start, widen, start + 8.0))
    pool = [solo("a", skill_a, waited_a), solo("b", skill_b, waited_b)]
    if form_matches(queue, pool, NOW):
        assert form_matches(queue, pool, NOW + later)
    # Within the maximum window, waiting long enough always brings the match.
    if abs(skill_a - skill_b) <= queue.window.max:
        assert form_matches(queue, pool, NOW + 8.0 / widen)
    else:
        assert not form_matches(queue, pool, NOW + 8.0 / widen + later)


def test_a_gap_beyond_the_window_closes_as_the_window_widens() -> None:
    queue = QueueConfig(name="duel", window=SkillWindow(1.0, 1.0, 10.0))
    assert (
        form_matches(queue, [solo("a", 20.0, waited=1.0), solo("b", 25.0, waited=1.0)], NOW) == []
    )
    [plan] = form_matches(queue, [solo("a", 20.0, waited=4.0), solo("b", 25.0, waited=4.0)], NOW)
    assert {c.ticket_id for c in plan.tickets} == {"a", "b"}


def test_both_windows_must_cover_the_gap() -> None:
    queue = QueueConfig(name="duel", window=SkillWindow(1.0, 1.0, 10.0))
    pool = [solo("old", 20.0, waited=9.0), solo("new", 25.0, waited=0.0)]
    assert form_matches(queue, pool, NOW) == []


def test_the_window_stops_at_its_maximum() -> None:
    queue = QueueConfig(name="duel", window=SkillWindow(1.0, 1.0, 3.0))
    assert form_matches(queue, [solo("a", 20.0, 50.0), solo("b", 25.0, 50.0)], NOW) == []


def test_the_oldest_ticket_is_served_first_with_its_nearest_rival() -> None:
    queue = QueueConfig(name="duel", window=SkillWindow(5.0, 0.0, 5.0))
    pool = [solo("young", 25.0, 0.0), solo("old", 24.0, 9.0), solo("near", 24.2, 1.0)]
    [plan] = form_matches(queue, pool, NOW)
    assert {c.ticket_id for c in plan.tickets} == {"old", "near"}


def test_the_oldest_tickets_nearest_rival_may_be_below_it() -> None:
    queue = QueueConfig(name="duel", window=SkillWindow(5.0, 0.0, 5.0))
    pool = [solo("old", 24.0, 9.0), solo("below", 23.9, 1.0), solo("above", 24.5, 1.0)]
    [plan] = form_matches(queue, pool, NOW)
    assert {c.ticket_id for c in plan.tickets} == {"old", "below"}


def test_parties_stay_whole_on_one_team() -> None:
    queue = QueueConfig(name="two", team_size=2, window=SkillWindow(10.0, 0.0, 10.0))
    pool = [party("duo", [30.0, 20.0]), solo("a", 26.0), solo("b", 24.0)]
    [plan] = form_matches(queue, pool, NOW)
    assert sorted(map(sorted, plan.player_teams)) == [["a", "b"], ["duo.0", "duo.1"]]


def test_parties_that_cannot_fill_teams_exactly_wait() -> None:
    queue = QueueConfig(name="five", team_size=5, window=SkillWindow(10.0, 0.0, 10.0))
    pool = [party("four", [25.0] * 4), party("x", [25.0] * 3), party("y", [25.0] * 3)]
    assert form_matches(queue, pool, NOW) == []
    [plan] = form_matches(queue, [*pool[:2], party("z", [25.0] * 2), solo("s", 25.0)], NOW)
    assert sorted(len(t) for t in plan.player_teams) == [5, 5]


def test_free_for_all_puts_each_ticket_on_its_own_team() -> None:
    queue = QueueConfig(name="ffa", team_size=1, teams=4, window=SkillWindow(5.0, 0.0, 5.0))
    plans = form_matches(queue, [solo(f"p{i}", 25.0 + i * 0.1) for i in range(9)], NOW)
    assert len(plans) == 2
    assert all(len(p.teams) == 4 and p.fairness_gap < 0.01 for p in plans)


def test_latency_picks_a_region_every_member_reaches() -> None:
    queue = QueueConfig(name="duel", max_latency_ms=100.0, window=SkillWindow(5.0, 0.0, 5.0))
    a = solo("a", 25.0, regions=frozenset({"eu", "us"}), latency_ms={"eu": 20.0, "us": 90.0})
    b = solo("b", 25.0, regions=frozenset({"ap"}), latency_ms={"ap": 10.0})
    c = solo("c", 25.0, regions=frozenset({"us", "eu"}), latency_ms={"eu": 80.0, "us": 30.0})
    [plan] = form_matches(queue, [a, b, c], NOW)
    assert {t.ticket_id for t in plan.tickets} == {"a", "c"}
    assert plan.region == "eu"


def test_teams_are_balanced_close_to_even() -> None:
    rnd = random.Random(7)
    queue = QueueConfig(name="five", team_size=5, window=SkillWindow(3.0, 0.5, 10.0))
    pool = [solo(f"p{i}", rnd.gauss(25.0, 5.0), rnd.uniform(0, 10)) for i in range(2000)]
    plans = form_matches(queue, pool, NOW)
    assert len(plans) >= 180
    fair = sum(0.45 <= p.win_probabilities[0] <= 0.55 for p in plans)
    assert fair / len(plans) >= 0.95


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 50.0), min_size=10, max_size=10))
def test_the_team_gap_is_at_most_the_skill_spread(skills: list[float]) -> None:
    queue = QueueConfig(name="five", team_size=5, window=SkillWindow(100.0, 0.0, 100.0))
    [plan] = form_matches(queue, [solo(f"p{i}", s) for i, s in enumerate(skills)], NOW)
    a, b = (sum(c.mu_sum for c in team) for team in plan.teams)
    assert abs(a - b) <= max(skills) - min(skills) + 1e-9


def test_an_exchange_of_two_for_two_evens_what_single_swaps_cannot() -> None:
    queue = QueueConfig(name="five", team_size=5, window=SkillWindow(100.0, 0.0, 100.0))
    skills = [0.0, 0.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 44.0, 48.0]
    [plan] = form_matches(queue, [solo(f"p{i}", s) for i, s in enumerate(skills)], NOW)
    assert plan.win_probabilities[0] == 0.5


def test_expired_tickets_are_those_at_or_past_the_maximum_wait() -> None:
    pool = [solo("a", 25.0, 59.9), solo("b", 25.0, 60.0), solo("c", 25.0, 61.0)]
    assert [c.ticket_id for c in expired(pool, NOW, 60.0)] == ["b", "c"]


def _free_for_all(window: SkillWindow) -> QueueConfig:
    return QueueConfig(
        name="ffa",
        team_size=1,
        teams=4,
        max_players=4,
        min_players=2,
        fill_wait_s=30.0,
        window=window,
    )


def test_a_neighbour_of_the_anchors_very_skill_is_taken_with_none_in_reach_beyond() -> None:
    # Only the anchor has waited out the fill wait, so only its turn can make a short match.
    queue = _free_for_all(SkillWindow(5.0, 0.0, 5.0))
    young, old = solo("young", 25.0, waited=0.0), solo("old", 25.0, waited=40.0)
    for pool in ([young, old], [old, young]):  # the neighbour left, then right of it
        [plan] = form_matches(queue, pool, NOW)
        assert {c.ticket_id for c in plan.tickets} == {"young", "old"}


def test_the_scan_limit_counts_every_rejected_neighbour() -> None:
    # The anchor's two nearest neighbours are fresh, their windows too narrow for it; the
    # third one suits it. Only the anchor has waited out the fill wait.
    queue = _free_for_all(SkillWindow(1.0, 10.0, 100.0))
    pool = [
        solo("anchor", 50.0, waited=40.0),
        solo("fresh1", 55.0),
        solo("fresh2", 60.0),
        solo("ripe", 65.0, waited=5.0),
    ]
    assert form_matches(queue, pool, NOW, scan_limit=2) == []
    [plan] = form_matches(queue, pool, NOW, scan_limit=3)
    assert {c.ticket_id for c in plan.tickets} == {"anchor", "ripe"}


def test_an_anchor_whose_tickets_make_no_exact_teams_leaves_later_anchors_their_turn() -> None:
    # Three duos cannot make two teams of three; six younger solos out of their reach can.
    queue = QueueConfig(name="three", team_size=3, window=SkillWindow(5.0, 0.0, 5.0))
    duos = [party(f"duo{i}", [25.0, 25.0], waited=20.0) for i in range(3)]
    solos = [solo(f"s{i}", 40.0 + i * 0.1, waited=1.0) for i in range(6)]
    [plan] = form_matches(queue, [*duos, *solos], NOW)
    assert {c.ticket_id for c in plan.tickets} == {f"s{i}" for i in range(6)}


def test_the_host_region_is_one_every_member_accepts_even_if_another_suits_the_rest() -> None:
    queue = QueueConfig(name="duel", max_latency_ms=100.0, window=SkillWindow(5.0, 0.0, 5.0))
    eu_only = solo("eu_only", 26.0, regions=frozenset({"eu"}), latency_ms={"eu": 20.0})
    both = solo("both", 25.0, regions=frozenset({"eu", "us"}), latency_ms={"eu": 90.0, "us": 5.0})
    [plan] = form_matches(queue, [eu_only, both], NOW)
    assert plan.region == "eu"


def test_a_duels_scan_limit_counts_every_rejected_neighbour_once() -> None:
    # The anchor's nearest neighbour is fresh, its window too narrow for the anchor; the
    # next one suits it.
    queue = QueueConfig(name="duel", window=SkillWindow(0.5, 1.0, 10.0))
    pool = [solo("anchor", 50.0, 20.0), solo("fresh", 51.0), solo("ripe", 52.0, 5.0)]
    assert form_matches(queue, pool, NOW, scan_limit=1) == []
    [plan] = form_matches(queue, pool, NOW, scan_limit=2)
    assert {c.ticket_id for c in plan.tickets} == {"anchor", "ripe"}


def test_an_anchor_grows_its_match_from_its_nearest_neighbours_below_it_too() -> None:
    queue = QueueConfig(name="two", team_size=2, window=SkillWindow(5.0, 0.0, 5.0))
    below = [solo(f"b{i}", 50.0 - 0.1 * i) for i in range(1, 4)]
    above = [solo(f"a{i}", 50.4 + 0.1 * i) for i in range(1, 4)]
    [plan] = form_matches(queue, [solo("anchor", 50.0, 9.0), *below, *above], NOW)
    assert {c.ticket_id for c in plan.tickets} == {"anchor", "b1", "b2", "b3"}


def test_a_ticket_accepting_two_regions_meets_a_ticket_of_either() -> None:
    queue = QueueConfig(name="duel", max_latency_ms=100.0, window=SkillWindow(5.0, 0.0, 5.0))
    both = solo("both", 25.0, regions=frozenset({"eu", "us"}))
    for region in ("eu", "us"):
        other = solo(region, 25.0, regions=frozenset({region}))
        [plan] = form_matches(queue, [both, other], NOW)
        assert plan.region == region


def test_a_narrow_window_of_one_member_bounds_the_reach_of_the_whole_match() -> None:
    # The anchor takes the fresh ticket (window 1) first, then a wide one: the match may
    # still not reach beyond 51, where the fresh ticket's window ends.
    queue = QueueConfig(name="two", team_size=2, window=SkillWindow(1.0, 1.0, 10.0))
    pool = [
        solo("anchor", 50.5, 10.0),
        solo("fresh", 50.0),
        solo("wide", 49.8, 9.0),
        solo("beyond", 51.5, 9.0),
        solo("further", 52.0, 9.0),
    ]
    [plan] = form_matches(queue, pool, NOW)
    assert {c.ticket_id for c in plan.tickets} == {"anchor", "wide", "beyond", "further"}
