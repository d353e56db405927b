"""A gateway heartbeats the function library versions it uses, and
`gameserver cluster prune-functions` deletes only the versions nobody heartbeats, run by
hand or by `gameserver up` on its own."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.storage.function_library import FunctionLibrary
from domain.storage.library_versions import last_seen, loaded_libraries
from gameserver.embedded import EmbeddedCluster, find_free_base_port
from tests.game_client import game_client
from tests.gateway_harness import (
    ADMIN_KEY,
    Gateway,
    env_without_settings,
    free_port,
    up_command,
)

pytestmark = pytest.mark.usefixtures("clean_valkey")

# A library an earlier release loaded and no running process uses.
RETIRED = """#!lua name=retiredlib
server.register_function('retired_fn', function(keys, args) return 1 end)
"""


async def test_prune_functions_deletes_what_no_running_process_uses(
    gateway: Gateway, admin_valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    retired = FunctionLibrary.from_source(RETIRED)
    await admin_valkey.execute_command(
        "FUNCTION", "LOAD", "REPLACE", retired.code, target_nodes=ValkeyCluster.PRIMARIES
    )
    seen = await last_seen(admin_valkey)
    # The gateway named its own versions at start-up: boards, sessions, accounts, ...
    assert any(name.startswith("leaderboards_v") for name in seen), seen
    assert retired.name not in seen

    command = [sys.executable, "-m", "gameserver", "cluster", "prune-functions"]
    command += ["--data-dir", str(embedded_cluster.data_dir)]
    env = {k: v for k, v in os.environ.items() if k != "VALKEY_NODES"}
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert f"deleted {retired.name}" in done.stdout

    loaded = await loaded_libraries(admin_valkey)
    assert retired.name not in loaded
    assert set(seen) <= loaded
    # The gateway still serves, on its own versions.
    async with game_client(gateway.base_url, "p1") as p1:
        await p1.ok("score.submit", board="global", score=1)


def _loaded_on_primaries(cluster: EmbeddedCluster) -> list[set[str]]:
    """The library names each primary holds."""
    names = []
    for node in cluster.nodes:
        with node.client() as admin:
            if admin.call("ROLE")[0] != "master":
                continue
            listed = admin.call("FUNCTION", "LIST")
        names.append({str(dict(zip(i[::2], i[1::2], strict=True))["library_name"]) for i in listed})
    return names


def _start_up(command: list[str], log: Path, prune_every_s: str) -> subprocess.Popen[bytes]:
    env = env_without_settings(
        GAMESERVER_ADMIN_KEY=ADMIN_KEY, GAMESERVER_PRUNE_FUNCTIONS_S=prune_every_s
    )
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


async def test_up_prunes_what_no_process_uses_by_itself_and_keeps_what_its_own_use(
    tmp_path: Path,
) -> None:
    data_dir, port, valkey_port = tmp_path / "data", free_port(), find_free_base_port()
    log = tmp_path / "up.log"
    # `up` prunes once a second here (an hour by default).
    process = _start_up(up_command(data_dir, port, valkey_port), log, "1")
    try:
        deadline = time.monotonic() + 90
        while "Ctrl-C stops everything" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.2)
        cluster = EmbeddedCluster(data_dir, valkey_port)
        retired = FunctionLibrary.from_source(RETIRED)
        for node in cluster.nodes:
            with node.client() as admin:
                if admin.call("ROLE")[0] == "master":
                    admin.call("FUNCTION", "LOAD", "REPLACE", retired.code)

        deadline = time.monotonic() + 30
        while any(retired.name in names for names in _loaded_on_primaries(cluster)):
            assert time.monotonic() < deadline, "up never pruned the retired library"
            await asyncio.sleep(0.2)
        # The gateway's and worker's own versions stay on every primary, and it serves.
        for names in _loaded_on_primaries(cluster):
            assert any(name.startswith("leaderboards_v") for name in names), names
            assert any(name.startswith("matchmaking_v") for name in names), names
        assert f"deleted {retired.name}" in log.read_text()
        async with game_client(f"http://127.0.0.1:{port}", "p1") as p1:
            await p1.ok("score.submit", board="global", score=1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
