"""The `gameserver` command line: what each sub-command accepts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gameserver.cli import build_parser
from gameserver.settings import settings_from_env


def test_bench_forwards_its_own_options_whole() -> None:
    # `gameserver bench --mode compare` once failed in argparse before reaching the bench.
    result = subprocess.run(
        [sys.executable, "-m", "gameserver.cli", "bench", "--mode", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--mode: invalid choice: 'nonsense'" in result.stderr
    assert "gameserver bench" in result.stderr


def test_cluster_refuses_an_unknown_action() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["cluster", "explode"])


def test_up_takes_port_and_data_dir() -> None:
    args = build_parser().parse_args(["up", "--port", "9001", "--data-dir", "/tmp/x"])
    assert (args.port, str(args.data_dir)) == (9001, "/tmp/x")


def test_up_takes_a_number_of_gateway_processes() -> None:
    args = build_parser().parse_args(["up", "--gateways", "3"])
    assert args.gateways == 3


def test_gateways_come_from_the_environment_and_must_be_positive() -> None:
    assert settings_from_env({"GAMESERVER_GATEWAYS": "2"}).gateways == 2
    assert settings_from_env({}).gateways == 1
    with pytest.raises(ValueError, match="GAMESERVER_GATEWAYS"):
        settings_from_env({"GAMESERVER_GATEWAYS": "0"})
