"""`gameserver bench` end to end, in miniature: one command starts a server, measures both
targets, writes JSON and markdown, and leaves no Valkey behind. Timings are not checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from loadtest.gameserver_up import valkey_servers_of


def test_a_short_bench_writes_both_targets_to_json_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.bench",
            "--mode",
            "compare",
            "--ops",
            "ping,board.rank",
            "--concurrency",
            "4",
            "--warmup",
            "0.2",
            "--duration",
            "0.5",
            "--board-size",
            "20",
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
    report = json.loads((out / "bench.json").read_text())
    phases = {(p["target"], p["operation"]): p for p in report["compare"]["phases"]}
    assert phases[("gateway", "ping")]["ops"] > 0
    assert phases[("raw valkey-py", "PING")]["ops"] > 0
    assert any(row["op"] == "ping" for row in report["compare"]["ratios"])
    assert report["date"] and report["machine"]["cores"]
    assert "| gateway | ping |" in (out / "bench.md").read_text()
    assert valkey_servers_of(tmp_path / "gameserver") == []
