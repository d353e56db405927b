"""The code stays lint-clean, formatted and type-checked: the same gates as the review."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_finds_nothing() -> None:
    run = _run("ruff", "check", ".")
    assert run.returncode == 0, run.stdout[-4000:]


def test_the_code_is_formatted() -> None:
    run = _run("ruff", "format", "--check", ".")
    assert run.returncode == 0, run.stdout[-4000:]


def test_mypy_strict_passes_on_domain_and_gameserver(tmp_path: Path) -> None:
    run = _run("mypy", "--cache-dir", str(tmp_path / "mypy"))
    assert run.returncode == 0, run.stdout[-4000:]
