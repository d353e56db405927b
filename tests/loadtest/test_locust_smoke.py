"""CI smoke: a short headless Locust run of the real locustfile against `gameserver up`.

Locust runs in a subprocess: its gevent monkey-patching must not reach this pytest process,
whose asyncio tests it would break. Only the failure ratio is checked; timings never fail CI.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

from loadtest.gameserver_up import start_gameserver, stop_gameserver, valkey_servers_of

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
MAX_FAILURE_RATIO = 0.01


def aggregated_row(stats_csv: Path) -> dict[str, str]:
    with stats_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return row
    raise AssertionError(f"no Aggregated row in {stats_csv}")


def test_fifty_players_for_twenty_seconds_fail_at_most_one_percent(tmp_path: Path) -> None:
    data_dir = tmp_path / "gameserver"
    process, server = start_gameserver(data_dir)
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                "50",
                "-r",
                "25",
                "-t",
                "20s",
                "--host",
                server.url,
                "--csv",
                str(tmp_path / "smoke"),
                "--only-summary",
                f"--gs-admin-key={server.admin_key}",  # "=": a key may start with "-"
                "--gs-max-fail-ratio",
                str(MAX_FAILURE_RATIO),
            ],  # fmt: skip
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stop_gameserver(process)
    survivors = valkey_servers_of(data_dir)
    for _ in range(20):  # nodes exit just after `up` does; allow them a moment
        if not survivors:
            break
        time.sleep(0.25)
        survivors = valkey_servers_of(data_dir)

    stats = tmp_path / "smoke_stats.csv"
    assert stats.exists(), f"locust wrote no stats (exit {run.returncode}): {run.stderr[-3000:]}"
    row = aggregated_row(stats)
    requests, failures = int(row["Request Count"]), int(row["Failure Count"])
    assert requests > 100, run.stderr[-3000:]
    assert failures / requests <= MAX_FAILURE_RATIO, run.stderr[-3000:]
    # The thresholds, not Locust's "any failure" rule, decide the exit code.
    assert run.returncode == 0, run.stderr[-3000:]
    assert survivors == [], f"valkey-server processes of {data_dir} survived: {survivors}"
