"""A gateway heartbeats the function library versions it uses, and
`gameserver cluster prune-functions` deletes only the versions nobody heartbeats."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.storage.function_library import FunctionLibrary
from domain.storage.library_versions import last_seen, loaded_libraries
from gameserver.embedded import EmbeddedCluster
from tests.game_client import game_client
from tests.gateway_harness import Gateway

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
