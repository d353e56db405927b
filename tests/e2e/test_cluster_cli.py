"""`gameserver cluster up|status|down`: the embedded cluster alone, from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gameserver.embedded import find_free_base_port
from tests.gateway_harness import env_without_settings


def _cluster(
    action: str, data_dir: Path, port: int | None = None
) -> subprocess.CompletedProcess[str]:
    """`gameserver cluster ACTION`; without `port`, the ports recorded in the data dir."""
    command = [sys.executable, "-m", "gameserver", "cluster", action, "--data-dir", str(data_dir)]
    if port is not None:
        command += ["--valkey-port", str(port)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env_without_settings()
    )


def test_cluster_up_status_and_down(tmp_path: Path) -> None:
    port = find_free_base_port()
    try:
        up = _cluster("up", tmp_path, port)
        assert up.returncode == 0, up.stderr
        seeds = ",".join(f"127.0.0.1:{p}" for p in range(port, port + 6))
        assert up.stdout.strip() == f"VALKEY_NODES={seeds}"
        status = _cluster("status", tmp_path, port)
        assert status.returncode == 0, status.stdout
        assert status.stdout.count(" up ") == 6 and "cluster ok" in status.stdout
        # Without --valkey-port: the ports recorded in the data dir, not the default 7000.
        unported = _cluster("status", tmp_path)
        assert unported.returncode == 0 and unported.stdout.count(" up ") == 6
        down = _cluster("down", tmp_path)
        assert down.returncode == 0, down.stderr
        after = _cluster("status", tmp_path, port)
        # Exit code 2: no primary serves the slots.
        assert after.returncode == 2 and " up " not in after.stdout, after.stdout
    finally:
        _cluster("down", tmp_path, port)
