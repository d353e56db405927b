"""Group commit: writes that arrive while a WAIT is in flight share the next WAIT, and a
write is acknowledged only by a WAIT sent after it that enough replicas answered."""

from __future__ import annotations

import asyncio

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.errors import Unconfirmed
from domain.storage.auto_pipeline import auto_pipeline_for
from domain.storage.shard_calls import Call, ShardCaller
from gameserver.embedded import EmbeddedCluster
from tests.integration.shard_helpers import shard_of


async def _write_after(caller: ShardCaller, key: str, turns: int, replicas: int = 1) -> object:
    for _ in range(turns):
        await asyncio.sleep(0)  # each write in an event-loop turn of its own
    return await caller.write(Call(key, ("SET", key, "v")), replicas, 1000, idempotent=True)


async def test_writes_arriving_while_a_wait_is_in_flight_share_the_next_wait(
    valkey: ValkeyCluster,
) -> None:
    caller = ShardCaller(valkey)
    stats = auto_pipeline_for(valkey).stats
    # Each shard has one replica: a WAIT for two holds its connection for the full 300 ms.
    slow = asyncio.ensure_future(
        caller.write(Call("gc:{a}:slow", ("SET", "gc:{a}:slow", "v")), 2, 300, idempotent=True)
    )
    await asyncio.sleep(0.05)
    waits_before = stats.waits
    keys = [f"gc:{{a}}:{i}" for i in range(10)]
    replies = await asyncio.gather(*(_write_after(caller, k, i) for i, k in enumerate(keys)))
    with pytest.raises(Unconfirmed):
        await slow
    # Ten writes in ten turns, all behind the slow WAIT: one WAIT after them confirms all.
    assert replies == [True] * 10
    assert stats.waits - waits_before == 1
    assert await valkey.mget(keys) == [b"v"] * 10


@pytest.mark.timeout(90)
async def test_no_concurrent_write_is_acknowledged_while_its_replica_is_down(
    valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    caller = ShardCaller(valkey)
    keys = [f"gc:{{down}}:{i}" for i in range(30)]
    assert await asyncio.gather(*(_write_after(caller, k, 0) for k in keys[:3])) == [True] * 3
    _, replica = await shard_of(valkey, keys[0])
    embedded_cluster.kill_node(int(replica.port))
    try:
        outcomes = await asyncio.gather(
            *(_write_after(caller, k, i % 5) for i, k in enumerate(keys)),
            return_exceptions=True,
        )
    finally:
        await asyncio.to_thread(embedded_cluster.restart_node, int(replica.port))
        await valkey.nodes_manager.initialize()
    assert all(isinstance(outcome, Unconfirmed) for outcome in outcomes), outcomes
    # Once the replica is back, writes are confirmed again.
    assert await _write_after(caller, keys[0], 0) is True
