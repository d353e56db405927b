"""The matchmaking simulation command (loadtest/matchmaking_sim.py) runs end to end."""

from __future__ import annotations

import orjson
import pytest

from loadtest import matchmaking_sim


def test_the_simulation_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    matchmaking_sim.main(
        [
            "--seconds",
            "4",
            "--warmup",
            "1",
            "--rate",
            "200",
            "--pass-tickets",
            "400",
            "--pass-runs",
            "1",
            "--json",
        ]
    )
    result = orjson.loads(capsys.readouterr().out)
    assert [q["queue"] for q in result["queues"]] == ["duel", "fives", "modes", "ffa"]
    assert all(q["matches"] > 0 for q in result["queues"])
    by_name = {q["queue"]: q for q in result["queues"]}
    assert 4 <= by_name["ffa"]["players_per_match_p50"] <= 8
    assert set(result["pass"]) == {"duel", "fives", "fives_parties"}
