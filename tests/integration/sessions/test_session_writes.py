"""Session writes on the real cluster: which wait for a replica, and what a short WAIT says."""

from __future__ import annotations

import time

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.errors import Unconfirmed
from domain.sessions.service import SessionService
from domain.sessions.store import LIBRARY_CODE, SessionStore, session_key
from domain.storage.function_library import FunctionLibrary
from domain.storage.shard_calls import ShardCaller, WritePolicy
from gameserver.embedded import EmbeddedCluster
from tests.integration.shard_helpers import frozen, shard_of


def sessions(valkey: ValkeyCluster, wait_replicas: int, wait_timeout_ms: int) -> SessionService:
    store = SessionStore(ShardCaller(valkey), writes=WritePolicy(wait_replicas, wait_timeout_ms))
    return SessionService(
        store,
        secret=b"s",
        clock=FixedClock(time.time()),
        ttl_s=60,
        token_lifetime_s=3600,
        values_max_bytes=4096,
    )


async def test_acknowledged_writes_succeed_once_a_replica_confirms(valkey: ValkeyCluster) -> None:
    service = sessions(valkey, 1, 2000)
    await service.ensure_ready()
    new = await service.create("p1")
    await service.set_values("p1", new.session_id, {"deck": [1, 2]})
    assert await service.get_values("p1") == {"deck": [1, 2]}
    ended = await service.end("p1")
    assert ended.session_id == new.session_id
    assert await service.get("p1") is None


async def test_acknowledged_writes_no_replica_confirms_are_unconfirmed(
    valkey: ValkeyCluster,
) -> None:
    confirmed = sessions(valkey, 1, 2000)
    await confirmed.ensure_ready()
    new = await confirmed.create("p1")
    # Each shard has one replica: waiting for two falls short.
    impatient = sessions(valkey, 2, 50)
    with pytest.raises(Unconfirmed):
        await impatient.create("p2")
    with pytest.raises(Unconfirmed):
        await impatient.set_values("p1", new.session_id, {"k": 1})
    # Unconfirmed is not undone: each write ran on its primary.
    assert await confirmed.get("p2") is not None
    assert await confirmed.get_values("p1") == {"k": 1}
    with pytest.raises(Unconfirmed):
        await impatient.end("p1")
    assert await confirmed.get("p1") is None


async def test_touch_attach_and_detach_wait_for_no_replica(valkey: ValkeyCluster) -> None:
    confirmed = sessions(valkey, 1, 2000)
    await confirmed.ensure_ready()
    new = await confirmed.create("p1")
    impatient = sessions(valkey, 2, 50)
    claims = impatient.verify(new.token)
    attached = await impatient.attach(claims, "gw-1")
    assert attached.session.gateway_id == "gw-1"
    assert await impatient.touch("p1", new.session_id) == 1
    assert await impatient.touch_many([("p1", new.session_id)]) == [1]
    await impatient.detach("p1", new.session_id, "gw-1")
    assert await impatient.gateways_of(["p1"]) == {}


async def test_a_login_its_frozen_replica_cannot_confirm_is_unconfirmed(
    valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    service = sessions(valkey, 1, 300)
    await service.ensure_ready()
    _, replica = await shard_of(valkey, session_key("p1"))
    async with frozen(embedded_cluster, int(replica.port)):
        with pytest.raises(Unconfirmed):
            await service.create("p1")
    assert (await service.create("p1")).player_id == "p1"


async def test_a_node_without_the_library_gets_it_back(
    valkey: ValkeyCluster, admin_valkey: ValkeyCluster
) -> None:
    service = sessions(valkey, 1, 2000)
    primary, _ = await shard_of(admin_valkey, session_key("p1"))
    # Deleting it on the primary deletes it on its replica too, as a new shard would be.
    loaded = FunctionLibrary.from_source(LIBRARY_CODE).name
    await primary.execute_command("FUNCTION", "DELETE", loaded)
    assert (await service.create("p1")).player_id == "p1"
