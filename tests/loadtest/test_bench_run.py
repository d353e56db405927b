"""`gameserver bench` end to end, in miniature: one command starts a server, measures both
targets, writes JSON and markdown, and leaves no Valkey behind. Timings are not checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from loadtest.gameserver_up import valkey_servers_of


def _bench(tmp_path: Path, *options: str) -> dict[str, object]:
    """Run `python -m loadtest.bench` with `options` on a server of its own; its JSON."""
    out = tmp_path / "bench"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.bench",
            *options,
            "--data-dir",
            str(tmp_path / "gameserver"),
            "--out",
            str(out),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    report: dict[str, object] = json.loads((out / "bench.json").read_text())
    return report


def test_a_short_bench_writes_both_targets_to_json_and_markdown(tmp_path: Path) -> None:
    report: Any = _bench(
        tmp_path,
        "--mode",
        "compare",
        "--ops",
        "ping,board.rank,device.login",
        "--layouts",
        "1,2",
        "--client-procs",
        "2",
        "--concurrency",
        "4",
        "--warmup",
        "0.2",
        "--duration",
        "0.5",
        "--board-size",
        "20",
    )  # fmt: skip
    out = tmp_path / "bench"
    phases = {(p["target"], p["operation"]): p for p in report["compare"]["phases"]}
    assert phases[("gateway", "ping")]["ops"] > 0
    assert phases[("raw valkey-py", "PING")]["ops"] > 0
    assert any(row["op"] == "ping" for row in report["compare"]["ratios"])
    assert report["date"] and report["machine"]["cores"]
    # Every board op ran on both layouts; the raw baseline and the logins once.
    layouts = {(p["operation"], p["layout"]) for p in report["compare"]["phases"]}
    assert {("board.rank", "1 sub-board"), ("board.rank", "2 sub-boards")} <= layouts
    assert ("device.login", None) in layouts and ("ping", None) in layouts
    assert [p["operation"] for p in report["compare"]["phases"]].count("ping") == 1
    for p in report["compare"]["phases"]:
        assert p["ops"] > 0 and p["errors"] == 0, p
        assert p["client_procs"] == 2
        assert len(p["valkey_node_cpu"]) == 6, p["valkey_node_cpu"]
        assert set(p["us_per_op"]) == {"server", "gateway", "worker", "valkey", "client"}
        assert all(value >= 0 for value in p["us_per_op"].values())
        assert p["us_per_op"]["server"] > 0, p
        assert isinstance(p["busy"], list) and p["load_before"] >= 0 and p["other_cpu"] >= 0
        if p["target"] == "gateway":
            used = p["us_per_op"]
            assert used["server"] >= used["gateway"] and used["server"] >= used["valkey"]
    text = (out / "bench.md").read_text()
    assert "| gateway | ping | - |" in text and "server us/op" in text
    assert valkey_servers_of(tmp_path / "gameserver") == []


def test_a_short_fan_out_reports_gateway_cpu_per_delivery(tmp_path: Path) -> None:
    fanout: Any = _bench(
        tmp_path,
        "--mode",
        "fanout",
        "--subscribers",
        "10",
        "--duration",
        "1",
    )["fanout"]  # fmt: skip
    assert fanout["received_per_s"] > 0
    assert fanout["gateway_us_per_delivery"] > 0
    assert fanout["valkey_cpu"] is not None and fanout["worker_cpu"] is not None
    assert isinstance(fanout["busy"], list) and fanout["load_before"] >= 0
    assert "gateway CPU per delivery" in (tmp_path / "bench" / "bench.md").read_text()
    assert valkey_servers_of(tmp_path / "gameserver") == []
