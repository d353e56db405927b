"""The cluster client: routing, readiness."""

from __future__ import annotations

from valkey.asyncio.cluster import ValkeyCluster

from gameserver.valkey_client import cluster_is_ready

_LIBRARY = """#!lua name=client_probe
server.register_function('client_probe_echo', function(keys, args) return keys[1] end)
"""


async def _getkeys_calls(valkey: ValkeyCluster) -> int:
    total = 0
    for node in valkey.get_primaries():
        stats = await valkey.execute_command("INFO", "commandstats", target_nodes=node)
        total += int(stats.get("cmdstat_command|getkeys", {}).get("calls", 0))
    return total


async def test_fcall_is_routed_without_asking_the_server_for_its_keys(
    admin_valkey: ValkeyCluster,
) -> None:
    valkey = admin_valkey  # a made-up library on made-up keys; INFO
    await valkey.execute_command(
        "FUNCTION", "LOAD", "REPLACE", _LIBRARY, target_nodes=valkey.get_primaries()
    )
    before = await _getkeys_calls(valkey)
    keys = [f"probe:{i}" for i in range(20)]  # spread over every primary
    for key in keys:
        assert await valkey.execute_command("FCALL", "client_probe_echo", 1, key) == key.encode()
    assert await _getkeys_calls(valkey) == before


async def test_a_whole_cluster_is_ready(valkey: ValkeyCluster) -> None:
    assert await cluster_is_ready(valkey)
