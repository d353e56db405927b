"""Board configs: defaults, parsing, and bad fields answered with BadRequest."""

from __future__ import annotations

import pytest

from domain.errors import BadRequest
from domain.leaderboards.models import DEFAULT_BOARDS, BoardConfig


def test_the_default_boards_are_global_and_weekly() -> None:
    by_name = {board.name: board for board in DEFAULT_BOARDS}
    assert by_name["global"] == BoardConfig("global", "desc", "best", "never")
    assert by_name["weekly"] == BoardConfig("weekly", "desc", "best", "weekly")


def test_a_stored_board_with_a_short_retention_still_loads() -> None:
    # Only new boards (config file, admin API) must keep ended periods a minute at least.
    assert BoardConfig("old", retention_s=0).retention_s == 0
    assert BoardConfig.from_mapping({"name": "x", "retention_s": 60}).retention_s == 60


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
        # An archive gone the moment its period ends: no push, a webhook without entries.
        {"name": "x", "retention_s": 0},
        {"name": "x", "retention_s": 59},
        {"name": "x", "retention_s": "600"},
        {"name": "x", "colour": "red"},
    ],
)
def test_bad_configs_are_bad_requests(raw: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        BoardConfig.from_mapping(raw)
