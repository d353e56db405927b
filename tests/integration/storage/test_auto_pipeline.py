"""Concurrent requests to one node share pipelines, and each still gets its own answer."""

from __future__ import annotations

import asyncio

import pytest
from valkey.asyncio.cluster import ClusterNode, ValkeyCluster
from valkey.exceptions import ConnectionError

from domain.storage import auto_pipeline
from domain.storage.auto_pipeline import auto_pipeline_for
from domain.storage.shard_calls import Call, ShardCaller
from gameserver.settings import Settings
from gameserver.valkey_client import connect_cluster
from tests.gateway_harness import free_port


async def test_concurrent_reads_are_coalesced_and_answered_correctly(
    valkey: ValkeyCluster,
) -> None:
    keys = [f"ap:{{tag}}:{i}" for i in range(50)]  # one slot, so one node
    for i, key in enumerate(keys):
        await valkey.set(key, str(i))
    caller = ShardCaller(valkey)
    stats = auto_pipeline_for(valkey).stats
    before = (stats.batches, stats.requests)

    answers = await asyncio.gather(*(caller.read([Call(key, ("GET", key))]) for key in keys))

    assert [int(a[0]) for a in answers] == list(range(50))
    batches, requests = stats.batches - before[0], stats.requests - before[1]
    assert requests == 50
    assert batches < 10


async def test_writes_with_wait_are_confirmed_when_coalesced(valkey: ValkeyCluster) -> None:
    caller = ShardCaller(valkey)
    keys = [f"ap:{{w}}:{i}" for i in range(20)]
    replies = await asyncio.gather(
        *(caller.write(Call(k, ("SET", k, "v")), 1, 1000, idempotent=True) for k in keys)
    )
    assert replies == [True] * 20
    assert await valkey.mget(keys) == [b"v"] * 20


async def test_the_library_pipeline_fallback_answers_reads_and_confirmed_writes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nodes reached over TLS (or with a credential provider) go through valkey-py's own
    # pipeline; the test cluster has no TLS, so the choice is forced here.
    monkeypatch.setattr(auto_pipeline, "_transport_for", auto_pipeline._LibraryPipeline)
    client = await connect_cluster(settings)
    try:
        caller = ShardCaller(client)
        keys = [f"ap:{{lib}}:{i}" for i in range(10)]
        written = await asyncio.gather(
            *(caller.write(Call(k, ("SET", k, k)), 1, 1000, idempotent=True) for k in keys)
        )
        assert written == [True] * 10
        read = await asyncio.gather(*(caller.read([Call(k, ("GET", k))]) for k in keys))
        assert [r[0] for r in read] == [k.encode() for k in keys]
    finally:
        await client.aclose()


async def test_round_trips_and_failed_round_trips_are_counted_by_node(
    valkey: ValkeyCluster,
) -> None:
    caller = ShardCaller(valkey)
    key = "ap:{counted}:k"
    node = valkey.get_node_from_key(key)
    counts = auto_pipeline_for(valkey).node_counts
    sent = counts[node.name].round_trips if node.name in counts else 0
    await caller.read([Call(key, ("GET", key))])
    assert counts[node.name].round_trips == sent + 1

    # A node nobody listens on: the batch is never sent, and that counts as an error.
    dead = ClusterNode("127.0.0.1", free_port())
    pipeline = auto_pipeline.AutoPipeline()
    with pytest.raises(ConnectionError):
        await pipeline.submit(dead, [("PING",)])
    assert (
        pipeline.node_counts[dead.name].round_trips,
        pipeline.node_counts[dead.name].errors,
    ) == (1, 1)
    pipeline.close()
