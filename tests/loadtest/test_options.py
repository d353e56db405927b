"""The load test's options and load shape stages (pure, no Locust in this process)."""

from __future__ import annotations

from argparse import Namespace

import pytest

from loadtest.settings import LoadSettings, parse_weights, settings_from_options
from loadtest.stages import Stage, parse_stages, stage_at


def test_weights_parse_with_a_bare_name_weighing_one() -> None:
    assert parse_weights("eu:0.4, us:0.35,ap") == (("eu", 0.4), ("us", 0.35), ("ap", 1.0))


@pytest.mark.parametrize("raw", ["", " , ", "eu:-1"])
def test_weights_refuse_nothing_and_negatives(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_weights(raw)


def test_without_locust_options_the_defaults_hold() -> None:
    assert settings_from_options(None) == LoadSettings()


def test_options_become_settings() -> None:
    options = Namespace(
        gs_admin_key="k",
        gs_client_key="",
        gs_regions="eu:1",
        gs_mix="duel:2",
        gs_admin_users=3,
        gs_boards="global, weekly",
        gs_queue="duel",
        gs_think="0.1:0.3",
        gs_call_timeout=2.0,
        gs_match_timeout=10.0,
        gs_match_play=1.0,
        gs_subscribe_top=5,
        gs_ops="all",
        gs_player_prefix="x",
        gs_max_fail_ratio="0.01",
        gs_max_p95_ms=None,
        gs_max_push_p95_ms="",
    )
    settings = settings_from_options(options)
    assert settings.regions == (("eu", 1.0),)
    assert settings.mix == (("duel", 2.0),)
    assert settings.boards == ("global", "weekly")
    assert (settings.think_min_s, settings.think_max_s) == (0.1, 0.3)
    assert settings.max_fail_ratio == 0.01
    assert settings.max_p95_ms is None and settings.max_push_p95_ms is None


def test_stages_parse_as_users_at_rate_for_seconds() -> None:
    assert parse_stages("200@100/60, 400@200/30") == (
        Stage(200, 100.0, 60.0),
        Stage(400, 200.0, 30.0),
    )


@pytest.mark.parametrize("raw", ["", "200@100", "200/60", "@1/2"])
def test_malformed_stages_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_stages(raw)


def test_the_stage_running_is_found_by_elapsed_time_and_none_after_the_last() -> None:
    stages = parse_stages("10@5/60,20@10/30")
    assert stage_at(stages, 0) == stages[0]
    assert stage_at(stages, 59.9) == stages[0]
    assert stage_at(stages, 60) == stages[1]
    assert stage_at(stages, 90) is None
