"""Board configs: defaults, parsing, and bad fields answered with BadRequest."""

from __future__ import annotations

import pytest

from domain.errors import BadRequest
from domain.leaderboards.models import DEFAULT_BOARDS, BoardConfig


def test_the_default_boards_are_global_and_weekly() -> None:
    by_name = {board.name: board for board in DEFAULT_BOARDS}
    assert by_name["global"] == BoardConfig("global", "desc", "best", "never")
    assert by_name["weekly"] == BoardConfig("weekly", "desc", "best", "weekly")


def test_a_config_object_parses() -> None:
    raw = {"name": "speedrun", "order": "asc", "operator": "best", "reset": "daily"}
    config = BoardConfig.from_mapping(raw)
    assert (config.order, config.reset, config.sub_boards) == ("asc", "daily", 1)
    assert BoardConfig.from_mapping(config.to_dict()) == config


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"name": "a b"},
        {"name": "x", "order": "up"},
        {"name": "x", "operator": "max"},
        {"name": "x", "reset": "hourly"},
        {"name": "x", "sub_boards": 0},
        {"name": "x", "sub_boards": True},
        {"name": "x", "buckets": 10**9},
        {"name": "x", "retention_s": -1},
        {"name": "x", "colour": "red"},
    ],
)
def test_bad_configs_are_bad_requests(raw: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        BoardConfig.from_mapping(raw)
