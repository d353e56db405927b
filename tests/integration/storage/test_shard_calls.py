"""The shared shard caller on the real cluster: WAIT, lost replies, missing functions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import valkey.asyncio as valkey_asyncio
from valkey.asyncio.cluster import ClusterNode, ValkeyCluster
from valkey.exceptions import ResponseError

from domain.errors import Unconfirmed
from domain.storage.function_library import FunctionLibrary
from domain.storage.shard_calls import Call, ShardCaller
from gameserver.embedded import EmbeddedCluster
from gameserver.settings import Settings
from gameserver.valkey_client import connect_cluster
from tests.cluster_helpers import eventually
from tests.integration.shard_helpers import frozen, shard_of

PROBE_LIBRARY = """#!lua name=shard_calls_probe
server.register_function('shard_calls_probe_incr', function(keys)
  return server.call('INCR', keys[1])
end)
"""

# Writes, then fails: what ran and failed must never run again.
FAILING_LIBRARY = """#!lua name=shard_calls_failing
server.register_function('shard_calls_failing_incr', function(keys)
  server.call('INCR', keys[1])
  return server.error_reply('ERR refused after a write')
end)
"""


async def on_replica(replica: ClusterNode, key: str) -> bytes | None:
    """`key` as the replica has it (READONLY on a connection of our own)."""
    login = replica.connection_kwargs
    client = valkey_asyncio.Valkey(
        host=replica.host,
        port=int(replica.port),
        username=login.get("username"),
        password=login.get("password"),
        single_connection_client=True,
    )
    try:
        await client.execute_command("READONLY")  # type: ignore[no-untyped-call]
        value: bytes | None = await client.execute_command("GET", key)  # type: ignore[no-untyped-call]
        return value
    finally:
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def impatient(settings: Settings) -> AsyncIterator[ValkeyCluster]:
    """A cluster client whose replies time out after 0.3 s."""
    client = await connect_cluster(settings.with_overrides(valkey_timeout_s=0.3))
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_confirmed_write_is_on_the_replica_when_it_returns(valkey: ValkeyCluster) -> None:
    caller = ShardCaller(valkey)
    assert await caller.write(Call("k1", ("SET", "k1", "v")), 1, 2000, idempotent=True)
    _, replica = await shard_of(valkey, "k1")
    assert await on_replica(replica, "k1") == b"v"


async def test_waiting_for_more_replicas_than_the_shard_has_is_unconfirmed(
    valkey: ValkeyCluster,
) -> None:
    caller = ShardCaller(valkey)
    with pytest.raises(Unconfirmed):
        await caller.write(Call("k2", ("INCR", "k2")), 2, 50, idempotent=False)
    # The write ran on the primary all the same: unconfirmed is not undone.
    assert await valkey.get("k2") == b"1"
    # No WAIT at all: nothing to confirm.
    assert await caller.write(Call("k2", ("INCR", "k2")), 0, 0, idempotent=False) == 2


async def test_a_write_its_frozen_replica_cannot_confirm_is_unconfirmed(
    valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    caller = ShardCaller(valkey)
    _, replica = await shard_of(valkey, "k3")
    async with frozen(embedded_cluster, int(replica.port)):
        with pytest.raises(Unconfirmed, match="no replica confirmed"):
            await caller.write(Call("k3", ("SET", "k3", "late")), 1, 300, idempotent=True)

    async def replica_caught_up() -> bool:
        return await on_replica(replica, "k3") == b"late"

    await eventually(replica_caught_up, timeout_s=5)
    assert await caller.write(Call("k3", ("SET", "k3", "ok")), 1, 2000, idempotent=True)


async def test_a_write_whose_reply_is_lost_is_not_sent_again(
    valkey: ValkeyCluster, impatient: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    caller = ShardCaller(impatient)
    primary, _ = await shard_of(valkey, "k4")
    await impatient.nodes_manager.initialize()
    # Open connections (reads and writes each have one), so that the INCR itself is
    # sent, not a connection handshake with its login.
    assert await caller.read([Call("k4", ("GET", "k4"))]) == [None]
    await caller.write(Call("k4", ("EXISTS", "k4")), 0, 0, idempotent=True)
    async with frozen(embedded_cluster, int(primary.port)):
        with pytest.raises(Unconfirmed, match="outcome is unknown"):
            await caller.write(Call("k4", ("INCR", "k4")), 0, 0, idempotent=False)
    # The INCR sat in the frozen primary's socket and ran when it woke up: once.

    async def ran_once() -> bool:
        return bool(await valkey.get("k4") == b"1")

    await eventually(ran_once, timeout_s=5)
    await asyncio.sleep(0.2)
    assert await valkey.get("k4") == b"1"


async def test_an_idempotent_write_whose_reply_is_lost_is_sent_again(
    valkey: ValkeyCluster, impatient: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    caller = ShardCaller(impatient)
    primary, _ = await shard_of(valkey, "k5")
    await impatient.nodes_manager.initialize()
    async with frozen(embedded_cluster, int(primary.port)):
        write = asyncio.create_task(
            caller.write(Call("k5", ("SET", "k5", "v")), 1, 2000, idempotent=True)
        )
        await asyncio.sleep(0.6)  # at least one attempt times out meanwhile
        assert not write.done()
    assert await write
    assert await valkey.get("k5") == b"v"


async def test_a_function_library_the_node_lacks_is_loaded_and_run_once(
    valkey: ValkeyCluster,
) -> None:
    caller = ShardCaller(valkey, libraries=[PROBE_LIBRARY])
    call = Call("k7", ("FCALL", "shard_calls_probe_incr", 1, "k7"))
    try:
        assert await caller.write(call, 1, 2000, idempotent=False) == 1
        assert await caller.read([Call("k7", ("GET", "k7"))]) == [b"1"]
    finally:
        # Loaded on that primary only (and so on its replica): leave no library behind.
        # The caller refreshed the slot map meanwhile: ask for the node afresh.
        primary, _ = await shard_of(valkey, "k7")
        loaded = FunctionLibrary.from_source(PROBE_LIBRARY).name
        await primary.execute_command("FUNCTION", "DELETE", loaded)


async def test_two_releases_of_a_library_run_side_by_side(valkey: ValkeyCluster) -> None:
    # A rolling upgrade: the new release loads a library whose function changed; the
    # old release, still running, keeps calling its own version.
    old_code = PROBE_LIBRARY.replace("shard_calls_probe_incr", "shard_calls_probe_step")
    new_code = old_code.replace(
        "server.call('INCR', keys[1])", "server.call('INCRBY', keys[1], 10)"
    )
    old, new = ShardCaller(valkey, libraries=[old_code]), ShardCaller(valkey, libraries=[new_code])
    call = Call("k8", ("FCALL", "shard_calls_probe_step", 1, "k8"))
    try:
        await old.load()
        await new.load()
        assert await old.write(call, 1, 2000, idempotent=False) == 1
        assert await new.write(call, 1, 2000, idempotent=False) == 11
        assert await old.write(call, 1, 2000, idempotent=False) == 12
    finally:
        for code in (old_code, new_code):
            name = FunctionLibrary.from_source(code).name
            for primary in valkey.get_primaries():
                await primary.execute_command("FUNCTION", "DELETE", name)


async def test_a_call_that_ran_and_failed_is_raised_and_never_sent_again(
    valkey: ValkeyCluster,
) -> None:
    caller = ShardCaller(valkey, libraries=[FAILING_LIBRARY])
    call = Call("k9", ("FCALL", "shard_calls_failing_incr", 1, "k9"))
    try:
        await caller.load()
        # Even a write its caller calls idempotent: it ran, and its error is the answer.
        with pytest.raises(ResponseError, match="refused after a write"):
            await caller.write(call, 1, 2000, idempotent=True)
        assert await valkey.get("k9") == b"1"
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await caller.read_one("k9", "HGET", "k9", "field")
    finally:
        name = FunctionLibrary.from_source(FAILING_LIBRARY).name
        for primary in valkey.get_primaries():
            await primary.execute_command("FUNCTION", "DELETE", name)


async def test_stores_sharing_one_caller_each_keep_their_own_library(
    valkey: ValkeyCluster,
) -> None:
    caller = ShardCaller(valkey, libraries=[FAILING_LIBRARY])
    probe = caller.use_library(PROBE_LIBRARY)
    # A second store of the same feature on the same caller: the same library, once.
    assert caller.use_library(PROBE_LIBRARY) is probe
    # Function names are global in Valkey: another library may not register one again.
    clash = PROBE_LIBRARY.replace("name=shard_calls_probe", "name=shard_calls_clash")
    with pytest.raises(ValueError, match="registered by two libraries"):
        caller.use_library(clash)
    call = Call("k10", ("FCALL", "shard_calls_probe_incr", 1, "k10"))
    try:
        await caller.load(probe)
        assert await caller.write(call, 1, 2000, idempotent=False) == 1
    finally:
        failing = FunctionLibrary.from_source(FAILING_LIBRARY).name
        for primary in valkey.get_primaries():
            await primary.execute_command("FUNCTION", "DELETE", probe.name)
            with contextlib.suppress(ResponseError):  # loaded only if a node lacked probe
                await primary.execute_command("FUNCTION", "DELETE", failing)
