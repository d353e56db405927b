"""The end-to-end matchmaking benchmark command runs against a real cluster and reports."""

from __future__ import annotations

import orjson
import pytest
from valkey.asyncio.cluster import ValkeyCluster

from loadtest import matchmaking_e2e
from tests.cluster_helpers import logins_for


def test_the_end_to_end_benchmark_joins_matches_and_reports(
    clean_valkey: ValkeyCluster,
    cluster_seeds: tuple[tuple[str, int], ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The command logs in with the environment's login, as `serve` and `worker` do.
    login = logins_for(cluster_seeds).gameserver
    if login is not None:
        monkeypatch.setenv("VALKEY_USERNAME", login.username)
        monkeypatch.setenv("VALKEY_PASSWORD", login.password)
    nodes = ",".join(f"{h}:{p}" for h, p in cluster_seeds)
    matchmaking_e2e.main(
        ["--rate", "40", "--seconds", "1", "--joiners", "2", "--valkey-nodes", nodes, "--json"]
    )
    result = orjson.loads(capsys.readouterr().out)
    assert result["joins"] == 40 and result["join_errors"] == 0
    # A few players at the edges of the rating spread may outwait the drain.
    assert result["matched_share"] >= 0.8
    assert result["found_p50_ms"] <= result["found_p95_ms"]
    assert result["mean_win_gap"] is not None
