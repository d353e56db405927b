from __future__ import annotations

from typing import Any

import pytest

from domain.errors import BadRequest
from domain.matchmaking.models import (
    DEFAULT_QUEUES,
    QueueConfig,
    SkillWindow,
    TicketProperties,
)


def test_the_embedded_default_is_a_duel() -> None:
    [duel] = DEFAULT_QUEUES
    assert (duel.name, duel.teams, duel.team_size) == ("duel", 2, 1)


def test_a_queue_survives_a_round_trip_through_its_dict() -> None:
    queue = QueueConfig.from_dict(
        {
            "name": "five",
            "team_size": 5,
            "teams": 2,
            "max_wait_s": 90,
            "window_start": 2,
            "window_widen_per_s": 0.25,
            "window_max": 12,
            "same_region": True,
            "max_latency_ms": 80,
            "parties": False,
            "ranked_board": "ranked",
        }
    )
    assert queue.window == SkillWindow(2.0, 0.25, 12.0)
    assert QueueConfig.from_dict(queue.to_dict()) == queue


@pytest.mark.parametrize(
    "patch",
    [
        {"name": "bad name"},
        {"team_size": 0},
        {"team_size": 2.5},
        {"teams": 1},
        {"teams": True},
        {"team_size": 11, "teams": 10},
        {"max_wait_s": 0},
        {"max_wait_s": "60"},
        {"window_start": -1},
        {"window_start": 5, "window_max": 4},
        {"window_widen_per_s": float("nan")},
        {"same_region": "yes"},
        {"max_latency_ms": 0},
        {"ranked_board": "no/slash"},
    ],
)
def test_a_bad_queue_is_a_bad_request(patch: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        QueueConfig.from_dict({"name": "q", **patch})


def test_the_window_widens_with_wait_up_to_its_maximum() -> None:
    window = SkillWindow(start=1.0, widen_per_s=0.5, max=3.0)
    assert [window.at(t) for t in (-5.0, 0.0, 2.0, 4.0, 100.0)] == [1.0, 1.0, 2.0, 3.0, 3.0]


def test_a_regional_queue_needs_a_region() -> None:
    queue = QueueConfig(name="q", same_region=True)
    with pytest.raises(BadRequest):
        TicketProperties.parse({}, queue)
    assert queue.partition_of(TicketProperties.parse({"region": "eu"}, queue).region) == "eu"
    assert QueueConfig(name="q").partition_of("eu") == "any"


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"region": "e u"},
        {"latency": {"eu": -1}},
        {"latency": {"e/u": 10}},
        {"latency": {"eu": "10"}},
        {"latency": {f"r{i}": 1 for i in range(33)}},
        {"latency": {"eu": 500, "us": 300}},
    ],
)
def test_bad_properties_are_a_bad_request(raw: object) -> None:
    with pytest.raises(BadRequest):
        TicketProperties.parse(raw, QueueConfig(name="q", max_latency_ms=100))


def test_acceptable_regions_follow_the_latency_limit() -> None:
    queue = QueueConfig(name="q", max_latency_ms=100)
    props = TicketProperties.parse({"latency": {"eu": 30, "us": 140, "ap": 100}}, queue)
    assert props.acceptable_regions(queue) == {"eu", "ap"}
    assert TicketProperties.parse({"mode": "ranked"}, queue).acceptable_regions(queue) is None
    regional = QueueConfig(name="q", same_region=True, max_latency_ms=100)
    props = TicketProperties.parse({"region": "ap", "latency": {"eu": 30, "ap": 90}}, regional)
    assert props.acceptable_regions(regional) == {"ap"}
