"""Durability classes: `fast` sends no WAIT, `replicated` a WAIT, `fsync` a WAITAOF that
the primary and a replica answer once the write is in their fsynced AOF."""

from __future__ import annotations

from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.errors import Unconfirmed
from domain.storage.shard_calls import Call, ShardCaller, durability_policy

# A key outside every feature's prefix: the storage tests run as the admin user.
KEY = "dc:{durability}:k"


async def waits_on_node_of(admin: ValkeyCluster, key: str) -> tuple[int, int]:
    """How many WAIT and WAITAOF calls the primary of `key` has served."""
    node = admin.get_node_from_key(key)
    stats: dict[str, Any] = await admin.execute_command("INFO", "commandstats", target_nodes=node)

    def calls(name: str) -> int:
        found = stats.get(f"cmdstat_{name}")
        return int(found["calls"]) if isinstance(found, dict) else 0

    return calls("wait"), calls("waitaof")


@pytest.mark.parametrize(
    ("name", "expected"), [("fast", (0, 0)), ("replicated", (1, 0)), ("fsync", (0, 1))]
)
async def test_each_durability_class_sends_its_own_wait(
    valkey: ValkeyCluster, name: str, expected: tuple[int, int]
) -> None:
    policy = durability_policy(name, 1, 1000, 6.0)
    caller = ShardCaller(valkey)
    before = await waits_on_node_of(valkey, KEY)
    reply = await caller.write(Call(KEY, ("SET", KEY, name)), *policy.wait, idempotent=True)
    after = await waits_on_node_of(valkey, KEY)
    assert reply is True
    assert (after[0] - before[0], after[1] - before[1]) == expected


async def test_the_gameserver_user_may_send_waitaof(valkey_session: ValkeyCluster) -> None:
    # The services' own user (not the admin the storage tests use): the ACL grants WAITAOF.
    caller = ShardCaller(valkey_session)
    key = "lb:{durability-acl}:k"
    policy = durability_policy("fsync", 1, 1000, 6.0)
    assert await caller.write(Call(key, ("SET", key, "1")), *policy.wait, idempotent=True)
    await caller.write(Call(key, ("DEL", key)), *policy.wait, idempotent=True)


async def test_an_fsync_write_that_no_replica_can_confirm_is_unconfirmed(
    valkey: ValkeyCluster,
) -> None:
    # Asking for more replicas than a shard has: the WAITAOF times out short.
    caller = ShardCaller(valkey)
    with pytest.raises(Unconfirmed):
        await caller.write(Call(KEY, ("SET", KEY, "x")), 5, 200, True, idempotent=True)
