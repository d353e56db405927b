"""A ticket as the match-forming pass sees it: summed skill, regions, latencies."""

from __future__ import annotations

from domain.matchmaking.models import QueueConfig, Ticket, TicketProperties, TicketState
from domain.matchmaking.ratings import Rating
from domain.matchmaking.rules import Candidate, MatchPlan


def _ticket(properties: TicketProperties) -> Ticket:
    return Ticket(
        ticket_id="t1",
        queue="q",
        partition="any",
        players=("a", "b"),
        ratings=(Rating(30.0, 2.0), Rating(20.0, 3.0)),
        created_at=123.5,
        state=TicketState.SEARCHING,
        properties=properties,
    )


def test_a_candidate_sums_its_players_mu_and_variance() -> None:
    props = TicketProperties(region="eu", latency_ms={"eu": 20.0, "us": 150.0})
    queue = QueueConfig(name="q", team_size=2, max_latency_ms=100.0)
    c = Candidate.from_ticket(_ticket(props), queue)
    assert (c.ticket_id, c.players, c.created_at) == ("t1", ("a", "b"), 123.5)
    assert (c.mu_sum, c.sigma2_sum) == (50.0, 13.0)
    assert (c.size, c.skill) == (2, 25.0)
    assert c.region == "eu"
    assert c.regions == frozenset({"eu"})
    assert c.latency_ms == {"eu": 20.0, "us": 150.0}


def test_a_candidate_without_latencies_may_be_hosted_anywhere() -> None:
    c = Candidate.from_ticket(_ticket(TicketProperties()), QueueConfig(name="q", team_size=2))
    assert c.region is None
    assert c.regions is None
    assert c.latency_ms is None
    assert c.carried is None


def test_a_candidate_carries_the_tickets_other_properties_into_its_match() -> None:
    props = TicketProperties(carried={"mode": "ranked", "map": "dust"})
    c = Candidate.from_ticket(_ticket(props), QueueConfig(name="q", team_size=2))
    assert c.carried == {"mode": "ranked", "map": "dust"}


def test_a_plan_lists_its_tickets_and_players_team_by_team() -> None:
    x = Candidate("x", ("x1", "x2"), 50.0, 8.0, 0.0)
    y = Candidate("y", ("y1",), 26.0, 4.0, 0.0)
    z = Candidate("z", ("z1",), 24.0, 4.0, 0.0)
    plan = MatchPlan(((x,), (y, z)), (0.5, 0.5), None)
    assert plan.tickets == (x, y, z)
    assert plan.player_teams == (("x1", "x2"), ("y1", "z1"))
    assert plan.fairness_gap == 0.0
