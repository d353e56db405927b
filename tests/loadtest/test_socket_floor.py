"""The socket-floor benchmark runs end to end and reports a memory figure per socket."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_socket_floor_reports_memory_per_idle_socket() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loadtest.bench.socket_floor", "--sockets", "200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = re.search(r"200 idle sockets, (-?[\d.]+) KiB per socket", result.stdout)
    assert found is not None, result.stdout
    assert float(found.group(1)) > 0
