"""The Python SDK is typed (mypy --strict, with its own settings) and ships its type marker;
its backoff stays within its bounds."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from gameserver_client import ReconnectPolicy

SDK = Path(__file__).resolve().parents[2] / "clients" / "python"


def test_mypy_strict_passes_on_the_python_sdk(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy")],
        cwd=SDK,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:]


def test_the_sdk_ships_its_type_marker() -> None:
    assert (SDK / "src" / "gameserver_client" / "py.typed").is_file()


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 10, 100, 10_000])
def test_backoff_grows_and_stays_within_its_bounds(attempt: int) -> None:
    policy = ReconnectPolicy(initial_delay_s=0.5, max_delay_s=30.0, factor=2.0, jitter=0.5)
    ceiling = min(30.0, 0.5 * 2.0 ** min(attempt, 64))
    rng = random.Random(attempt)
    delays = [policy.delay(attempt, rng) for _ in range(200)]
    assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
    # Jitter spreads clients: the delays are not all the same.
    assert len(set(delays)) > 1


def test_backoff_rejects_settings_that_make_no_sense() -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(initial_delay_s=5, max_delay_s=1)
    with pytest.raises(ValueError):
        ReconnectPolicy(jitter=2)
