"""Score rules of a board: the config's own checks, its encoding for the writing function,
and the error each refusal answers with."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import BadRequest, Conflict, Forbidden, RateLimited
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.rules import REFUSALS, refusal_error, window_refusal
from domain.leaderboards.store import encode_rules


def test_every_rule_parses_and_survives_a_round_trip() -> None:
    raw: dict[str, Any] = {
        "name": "cup",
        "operator": "incr",
        "min_score": 0,
        "max_score": 1000,
        "max_step": 50,
        "client_writes": False,
        "writes_per_minute": 30,
        "start_at": 100,
        "end_at": 200,
        "max_players": 64,
        "max_attempts": 3,
        "join_required": True,
    }
    config = BoardConfig.from_mapping(raw)
    assert {k: v for k, v in config.to_dict().items() if k in raw} == raw
    assert BoardConfig.from_mapping(config.to_dict()) == config


def test_rules_default_to_an_open_board() -> None:
    config = BoardConfig("open")
    assert config.client_writes is True
    assert config.join_required is False
    assert (config.has_rules, config.takes_seats) == (False, False)


@pytest.mark.parametrize(
    "rules",
    [
        {"min_score": 10, "max_score": 9},
        {"min_score": "0"},
        {"max_score": 2**53 + 1},
        {"min_score": True},
        {"max_score": float("nan")},
        {"operator": "incr", "max_step": 0},
        {"operator": "incr", "max_step": -1},
        {"operator": "best", "max_step": 5},
        {"client_writes": 1},
        {"join_required": "yes"},
        {"writes_per_minute": 0},
        {"writes_per_minute": 1.5},
        {"max_players": 0},
        {"max_players": 10**9 + 1},
        {"max_attempts": -3},
        {"start_at": 200, "end_at": 200},
        {"start_at": 300, "end_at": 200},
        {"start_at": -1},
        {"end_at": 1.5},
        {"max_attempt": 3},
    ],
)
def test_bad_rules_are_bad_requests(rules: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        BoardConfig.from_mapping({"name": "x", **rules})


def test_the_edges_of_each_rule_are_accepted() -> None:
    BoardConfig("a", min_score=5, max_score=5)
    BoardConfig("b", min_score=-(2**53), max_score=2**53)
    BoardConfig("c", operator="decr", max_step=0.5)
    BoardConfig("d", start_at=0, end_at=1, writes_per_minute=1, max_players=1, max_attempts=1)


def test_a_board_without_rules_sends_no_rules() -> None:
    assert encode_rules(BoardConfig("plain"), True, 123.5) == ""


def test_rules_are_encoded_as_named_words_of_the_rules_set() -> None:
    config = BoardConfig(
        "cup", max_score=100, writes_per_minute=5, end_at=200, max_players=8, max_attempts=3
    )
    words = dict(word.split("=") for word in encode_rules(config, True, 150.25).split())
    assert words == {
        "client": "1",
        "now": "150.25",
        "seats": "1",
        "max_score": "100",
        "client_writes": "1",
        "writes_per_minute": "5",
        "end_at": "200",
        "max_players": "8",
        "max_attempts": "3",
        "join_required": "0",
    }
    joined = BoardConfig("j", join_required=True, client_writes=False, min_score=-0.5)
    assert encode_rules(joined, False, 1.0) == (
        "client=0 now=1.0 seats=1 min_score=-0.5 client_writes=0 join_required=1"
    )


def test_each_refusal_answers_with_the_contract_code() -> None:
    expected = {
        "client_writes": Forbidden,
        "not_started": Forbidden,
        "ended": Forbidden,
        "attempts": Forbidden,
        "not_joined": Forbidden,
        "below_min": BadRequest,
        "above_max": BadRequest,
        "step": BadRequest,
        "rate": RateLimited,
        "full": Conflict,
    }
    assert set(REFUSALS) == set(expected)
    for reason, kind in expected.items():
        error = refusal_error("cup", reason)
        assert type(error) is kind
        assert "cup" in error.message


def test_the_window_closes_at_end_at_exactly() -> None:
    config = BoardConfig("cup", start_at=100, end_at=200)
    assert window_refusal(config, 199.999) is None
    assert window_refusal(config, 200) == "ended"
    assert window_refusal(BoardConfig("open"), 10**10) is None
