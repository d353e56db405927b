"""Without the `[test]` extras, the load-test commands say what to install in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs a module as `python -m` would, with some modules made unimportable.
_RUN_WITHOUT = (
    "import runpy, sys\n"
    "for name in sys.argv[2:]: sys.modules[name] = None\n"
    "sys.argv = [sys.argv[1]]\n"
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
)


@pytest.mark.parametrize(
    ("module", "hidden"),
    [
        ("loadtest.bench", ["psutil"]),
        ("loadtest.board_bench", ["psutil"]),
        ("loadtest.run", ["locust"]),
        ("loadtest.matchmaking_e2e", ["psutil"]),
        ("loadtest.bench.socket_floor", ["psutil"]),
    ],
)
def test_a_command_without_the_test_extras_says_so_in_one_line(
    module: str, hidden: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _RUN_WITHOUT, module, *hidden],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    assert hidden[0] in lines[0] and "pip install -e '.[test]'" in lines[0]


def test_bench_profile_without_py_spy_says_so_before_anything_starts(tmp_path: Path) -> None:
    # An empty PATH: no py-spy to find (the profile extra is not installed).
    result = subprocess.run(
        [sys.executable, "-m", "loadtest.bench", "--profile", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert lines == ["gameserver bench --profile needs py-spy: pip install -e '.[profile]'"]
    assert not (tmp_path / "r").exists()
