"""The gevent WebSocket client: 200 Locust users in one process keep 200 sockets busy at once.

If the client blocked the process while waiting for a reply (a socket gevent cannot switch
on), the users' calls would run one after another: at most one would ever be in flight.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.gameserver_up import RunningGameserver, start_gameserver, stop_gameserver

PROBE = Path(__file__).with_name("concurrency_probe.py")
USERS = 200


@pytest.fixture(scope="module")
def gameserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGameserver]:
    process, server = start_gameserver(tmp_path_factory.mktemp("gameserver"))
    try:
        yield server
    finally:
        stop_gameserver(process)


def test_two_hundred_users_have_their_calls_in_flight_together(
    gameserver: RunningGameserver,
) -> None:
    run = subprocess.run(
        [sys.executable, str(PROBE), gameserver.url, "--users", str(USERS)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["sockets"] == USERS, result
    assert result["failure_count"] == 0, result
    assert result["calls"] == USERS * 10, result
    # All 200 users are released at once: unless calls serialise, most are in flight together.
    assert result["peak_in_flight"] >= USERS // 2, result
