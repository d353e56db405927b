"""The end-to-end matchmaking benchmark command runs against a real cluster and reports."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from valkey.asyncio.cluster import ValkeyCluster

from gameserver.embedded import EmbeddedCluster
from loadtest import matchmaking_e2e
from tests.cluster_helpers import logins_for


def _run(
    cluster_seeds: tuple[tuple[str, int], ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> dict[str, Any]:
    """The command on the test cluster, 40 joins in 1 s, and its JSON report."""
    # The command logs in with the environment's login, as `serve` and `worker` do.
    login = logins_for(cluster_seeds).gameserver
    if login is not None:
        monkeypatch.setenv("VALKEY_USERNAME", login.username)
        monkeypatch.setenv("VALKEY_PASSWORD", login.password)
    nodes = ",".join(f"{h}:{p}" for h, p in cluster_seeds)
    matchmaking_e2e.main(
        ["--rate", "40", "--seconds", "1", "--valkey-nodes", nodes, "--json", *args]
    )
    result: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return result


def test_the_end_to_end_benchmark_joins_matches_and_reports(
    clean_valkey: ValkeyCluster,
    cluster_seeds: tuple[tuple[str, int], ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _run(cluster_seeds, capsys, monkeypatch, "--joiners", "2")
    assert result["joins"] == 40 and result["join_errors"] == 0
    # A few players at the edges of the rating spread may outwait the drain.
    assert result["matched_share"] >= 0.8
    assert result["found_p50_ms"] <= result["found_p95_ms"]
    assert result["mean_win_gap"] is not None


def test_the_benchmark_counts_the_valkey_cpu_of_a_cluster_it_is_given(
    clean_valkey: ValkeyCluster,
    embedded_cluster: EmbeddedCluster,
    cluster_seeds: tuple[tuple[str, int], ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster_dir = str(embedded_cluster.data_dir)
    result = _run(
        cluster_seeds, capsys, monkeypatch, "--joiners", "1", "--drain", "3",
        "--cluster-dir", cluster_dir,
    )  # fmt: skip
    assert result["joins"] == 40
    assert result["valkey_cpu_ms_per_join"] is not None and result["valkey_cpu_ms_per_join"] > 0
