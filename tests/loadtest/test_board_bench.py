"""`python -m loadtest.board_bench` in miniature on the session cluster: it completes, its
JSON holds every figure, and it leaves none of its keys behind. Timings are not checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from valkey.cluster import ClusterNode, ValkeyCluster

from tests.cluster_helpers import logins_for

Seeds = tuple[tuple[str, int], ...]

PLAYERS = 20_000
SAMPLES = 200
SERVICE_CALLS = ("rank", "top 100", "around radius 5", "submit (WAIT 1)")
RAW_CALLS = ("ZREVRANK", "ZRANGE 0 99 REV WITHSCORES", "ZADD", "ZADD + WAIT 1")


def _run_bench(seeds: Seeds, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.board_bench",
            "--players",
            str(PLAYERS),
            "--samples",
            str(SAMPLES),
            "--concurrency",
            "8",
            "--checks",
            "20",
            "--valkey-nodes",
            ",".join(f"{h}:{p}" for h, p in seeds),
            "--json",
            str(out),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=100,
        env={**os.environ, **_admin_env(seeds)},
    )


def _admin_env(seeds: Seeds) -> dict[str, str]:
    # The bench reads INFO and CONFIG and writes a raw set: an operator's tool, as admin.
    admin = logins_for(seeds).admin
    return {"VALKEY_USERNAME": admin.username, "VALKEY_PASSWORD": admin.password} if admin else {}


def _keys_matching(seeds: Seeds, pattern: str) -> list[bytes]:
    nodes = [ClusterNode(host, port) for host, port in seeds]  # type: ignore[no-untyped-call]
    admin = logins_for(seeds).admin
    client = ValkeyCluster(
        startup_nodes=nodes,
        username=admin.username if admin else None,
        password=admin.password if admin else None,
    )
    try:
        return list(client.scan_iter(match=pattern, count=1000))
    finally:
        client.close()  # type: ignore[no-untyped-call]


def test_a_small_board_bench_reports_every_figure_and_removes_its_keys(
    cluster_seeds: Seeds, tmp_path: Path
) -> None:
    out = tmp_path / "board_bench.json"
    run = _run_bench(cluster_seeds, out)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    doc = json.loads(out.read_text())

    assert doc["date"] and "--players 20000" in doc["command"]
    assert doc["machine"]["nproc"] >= 1 and doc["machine"]["memory_bytes"] > 0
    assert all(len(doc["load_average"][when]) == 3 for when in ("start", "after_load", "end"))
    assert doc["load"]["players"] == PLAYERS and doc["load"]["players_per_s"] > 0
    assert doc["load"]["raw_members_per_s"] > 0
    for role in ("primaries", "replicas"):
        assert isinstance(doc["memory"][role]["bytes_per_player"], float)
    assert doc["check"]["ok"] and doc["check"]["count"] == PLAYERS

    measured = {(p["target"], p["operation"], p["concurrency"]): p for p in doc["phases"]}
    wanted = [("service", call, 8) for call in SERVICE_CALLS]
    wanted += [("raw valkey-py", call, 8) for call in RAW_CALLS]
    wanted += [("service", "rank", 1), ("raw valkey-py", "ZREVRANK", 1)]
    for key in wanted:
        phase = measured[key]
        assert phase["ops"] == SAMPLES and phase["errors"] == 0, phase
        assert 0 < phase["p50_ms"] <= phase["p99_ms"] and phase["ops_per_s"] > 0, phase
    for row in doc["comparison"]:
        assert isinstance(row["target"]["met"], bool)
        assert row["raw"] is None or row["ops_ratio"] > 0
    assert "| rank | 8 |" in run.stdout

    board, raw_key = doc["config"]["board"], doc["config"]["raw_key"]
    assert _keys_matching(cluster_seeds, f"lb:{{{board}.*") == []
    assert _keys_matching(cluster_seeds, raw_key) == []
