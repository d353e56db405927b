"""The start-up config file: TOML or JSON, or the built-in default."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.errors import BadRequest
from domain.leaderboards.models import BoardConfig
from domain.matchmaking.models import QueueConfig
from gameserver.config_file import DEFAULT_CONFIG, load_startup_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "gameserver.toml"


def test_without_a_file_the_default_has_global_weekly_and_duel() -> None:
    config = load_startup_config(None)
    assert [b["name"] for b in config.boards] == ["global", "weekly"]
    assert [q["name"] for q in config.queues] == ["duel"]
    assert config.boards == tuple(DEFAULT_CONFIG["boards"])


def test_the_example_file_parses_into_valid_boards_and_queues() -> None:
    config = load_startup_config(EXAMPLE)
    boards = [BoardConfig.from_mapping(raw) for raw in config.boards]
    queues = [QueueConfig.from_dict(raw) for raw in config.queues]
    assert {b.name for b in boards} == {"global", "weekly", "laps", "spring-cup", "ranked"}
    laps = next(b for b in boards if b.name == "laps")
    assert (laps.min_score, laps.max_score, laps.writes_per_minute) == (20, 3600, 30)
    cup = next(b for b in boards if b.name == "spring-cup")
    assert (cup.join_required, cup.max_players, cup.max_attempts) == (True, 1000, 3)
    assert next(q for q in queues if q.name == "squads").players_per_match == 10


def test_json_files_work_too(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"boards": [{"name": "b"}], "queues": []}')
    assert load_startup_config(path).boards == ({"name": "b"},)


def test_a_board_of_the_file_with_bad_rules_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[boards]]\nname = "b"\nmin_score = 9\nmax_score = 1\n')
    (raw,) = load_startup_config(path).boards
    with pytest.raises(BadRequest):
        BoardConfig.from_mapping(raw)


@pytest.mark.parametrize(
    ("name", "text"),
    [("c.yaml", "boards: []"), ("c.json", "[1]"), ("c.toml", "boards = 3"), ("c.json", "{")],
)
def test_malformed_files_are_refused(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError):
        load_startup_config(path)


def test_a_config_file_queue_with_an_unknown_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gameserver.json"
    path.write_text('{"queues": [{"name": "q", "match_ob": ["mode"]}]}')
    [raw] = load_startup_config(path).queues
    with pytest.raises(BadRequest, match="match_ob"):
        QueueConfig.from_dict(raw)
