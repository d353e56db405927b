"""Sharded pub/sub across the primaries, and across a primary failover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest_asyncio
from valkey.asyncio.cluster import ValkeyCluster
from valkey.crc import key_slot
from valkey.exceptions import ValkeyError

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.formation import probe
from gameserver.push.sharded_subscriber import ShardedSubscriber
from tests.cluster_helpers import eventually, spublish

FAILOVER_WAIT_S = 15.0


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, bytes]] = []

    def __call__(self, channel: bytes, data: bytes) -> None:
        self.messages.append((channel, data))

    def on(self, channel: bytes) -> list[bytes]:
        return [data for ch, data in self.messages if ch == channel]

    async def wait_for(self, expected: set[tuple[bytes, bytes]], timeout_s: float = 5.0) -> None:
        async def arrived() -> bool:
            return expected <= set(self.messages)

        await eventually(arrived, timeout_s)


def owner(client: ValkeyCluster, channel: bytes) -> tuple[str, int]:
    node = client.nodes_manager.get_node_from_slot(key_slot(channel))
    return (node.host, int(node.port))


def one_channel_per_primary(client: ValkeyCluster, prefix: str) -> list[bytes]:
    by_owner: dict[tuple[str, int], bytes] = {}
    for i in range(1000):
        # `gw:`, a prefix the gameserver user may subscribe to.
        channel = f"gw:{prefix}:{i}".encode()
        by_owner.setdefault(owner(client, channel), channel)
        if len(by_owner) == 3:
            break
    return sorted(by_owner.values())


def replica_of(cluster: EmbeddedCluster, primary_port: int) -> tuple[str, int]:
    for node in cluster.nodes:
        view = probe(node)
        if view is not None and view.primary_port == primary_port:
            return (node.host, int(node.port))
    raise AssertionError(f"no replica of {primary_port}")


def failover(cluster: EmbeddedCluster, replica_port: int) -> None:
    """Promote a replica with CLUSTER FAILOVER and wait until the cluster is whole again."""
    node = next(node for node in cluster.nodes if node.port == replica_port)
    with node.client() as admin:
        admin.call("CLUSTER FAILOVER")
    cluster.wait_healthy(timeout_s=15)


@pytest_asyncio.fixture(loop_scope="session")
async def inbox() -> Inbox:
    return Inbox()


@pytest_asyncio.fixture(loop_scope="session")
async def subscriber(valkey: ValkeyCluster, inbox: Inbox) -> AsyncIterator[ShardedSubscriber]:
    subscriber = ShardedSubscriber(valkey, inbox)
    await subscriber.start()
    try:
        yield subscriber
    finally:
        await subscriber.aclose()


async def test_messages_on_channels_of_every_primary_arrive(
    valkey: ValkeyCluster, subscriber: ShardedSubscriber, inbox: Inbox
) -> None:
    channels = one_channel_per_primary(valkey, "room")
    await subscriber.subscribe(*channels)
    await subscriber.wait_subscribed()
    assert subscriber.subscriptions() == {ch: owner(valkey, ch) for ch in channels}
    assert len(set(subscriber.subscriptions().values())) == 3

    for channel in channels:
        assert await spublish(valkey, channel, b"hello " + channel) == 1
    await inbox.wait_for({(ch, b"hello " + ch) for ch in channels})


async def test_an_unsubscribed_channel_receives_nothing_more(
    valkey: ValkeyCluster, subscriber: ShardedSubscriber, inbox: Inbox
) -> None:
    kept, dropped, *_ = one_channel_per_primary(valkey, "lobby")
    await subscriber.subscribe(kept, dropped.decode())
    await subscriber.wait_subscribed()
    await subscriber.unsubscribe(dropped)
    await subscriber.wait_subscribed()
    assert set(subscriber.subscriptions()) == {kept}

    assert await spublish(valkey, dropped, b"lost") == 0
    assert await spublish(valkey, kept, b"kept") == 1
    await inbox.wait_for({(kept, b"kept")})
    assert inbox.on(dropped) == []


async def test_a_manual_failover_moves_subscriptions_to_the_new_primary(
    valkey: ValkeyCluster,
    subscriber: ShardedSubscriber,
    inbox: Inbox,
    embedded_cluster: EmbeddedCluster,
) -> None:
    channel = one_channel_per_primary(valkey, "party")[1]
    await subscriber.subscribe(channel)
    await subscriber.wait_subscribed()
    primary = subscriber.subscriptions()[channel]
    replica = replica_of(embedded_cluster, primary[1])

    # The demoted primary sends `sunsubscribe` for the channels of the slots it lost.
    failover(embedded_cluster, replica[1])
    try:

        async def moved() -> bool:
            return subscriber.subscriptions() == {channel: replica}

        await eventually(moved, timeout_s=10)
        await spublish(valkey, channel, b"after")
        await inbox.wait_for({(channel, b"after")})
    finally:
        failover(embedded_cluster, primary[1])


async def test_subscriptions_follow_a_failover_to_the_promoted_replica(
    valkey: ValkeyCluster,
    subscriber: ShardedSubscriber,
    inbox: Inbox,
    embedded_cluster: EmbeddedCluster,
) -> None:
    channel = one_channel_per_primary(valkey, "match")[0]
    await subscriber.subscribe(channel)
    await subscriber.wait_subscribed()
    primary = subscriber.subscriptions()[channel]
    replica = replica_of(embedded_cluster, primary[1])
    await spublish(valkey, channel, b"before")
    await inbox.wait_for({(channel, b"before")})

    embedded_cluster.kill_node(primary[1])
    try:
        started = time.monotonic()
        delivered = False
        for attempt in range(int(FAILOVER_WAIT_S / 0.2)):
            try:
                await spublish(valkey, channel, f"after {attempt}".encode())
            except ValkeyError:
                pass  # the slot has no primary until the replica takes over
            await asyncio.sleep(0.2)
            if any(data.startswith(b"after") for data in inbox.on(channel)):
                delivered = True
                break
            if time.monotonic() - started > FAILOVER_WAIT_S:
                break
        assert delivered, f"nothing delivered within {FAILOVER_WAIT_S} s of the failover"
        assert subscriber.subscriptions() == {channel: replica}
    finally:
        await asyncio.to_thread(embedded_cluster.restart_node, primary[1])


async def test_a_channel_subscribed_again_after_its_link_broke_is_reported(
    valkey: ValkeyCluster, admin_valkey: ValkeyCluster, inbox: Inbox
) -> None:
    # Pub/sub delivers at most once: what was published while the link was down is gone,
    # and the owner of the channel must hear of it (the push feeds re-query everyone).
    gaps: list[bytes] = []
    subscriber = ShardedSubscriber(valkey, inbox, on_resubscribed=gaps.append)
    await subscriber.start()
    try:
        channel = b"gw:gap-probe"
        await subscriber.subscribe(channel)
        await subscriber.wait_subscribed()
        assert gaps == []
        node = admin_valkey.nodes_manager.get_node_from_slot(key_slot(channel))
        await admin_valkey.execute_command("CLIENT KILL", "TYPE", "pubsub", target_nodes=node)

        async def reported() -> bool:
            return gaps == [channel]

        await eventually(reported, timeout_s=10)
        await subscriber.wait_subscribed()
        await spublish(valkey, channel, b"after")
        await inbox.wait_for({(channel, b"after")})
    finally:
        await subscriber.aclose()
