"""A test run cleans up only the session clusters it may own: its own and dead runs'."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cluster_helpers import SESSION_CLUSTER_PREFIX, orphaned_session_cluster_folders


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_another_live_runs_cluster_is_left_alone(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f"{SESSION_CLUSTER_PREFIX}{other.pid}-abc"
        live.mkdir()
        assert orphaned_session_cluster_folders(tmp_path) == []
    finally:
        other.kill()
        other.wait()


def test_own_and_dead_runs_clusters_are_cleaned_up(tmp_path: Path) -> None:
    own = tmp_path / f"{SESSION_CLUSTER_PREFIX}{os.getpid()}-abc"
    dead = tmp_path / f"{SESSION_CLUSTER_PREFIX}{_dead_pid()}-def"
    unnamed = tmp_path / f"{SESSION_CLUSTER_PREFIX}xyz"
    for folder in (own, dead, unnamed):
        folder.mkdir()
    assert sorted(orphaned_session_cluster_folders(tmp_path)) == sorted([own, dead])
