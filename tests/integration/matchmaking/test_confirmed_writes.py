"""Matchmaking's acknowledged writes wait for a replica; a short WAIT is `Unconfirmed`."""

from __future__ import annotations

from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.errors import Conflict, Unconfirmed
from domain.matchmaking.models import QueueConfig
from domain.matchmaking.ratings import DEFAULT_RATING, rate
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.store import PartitionKeys, partition_code, player_ticket_key
from domain.matchmaking.worker import MatchmakingWorker
from domain.storage.shard_calls import WritePolicy
from gameserver.embedded import EmbeddedCluster
from tests.integration.matchmaking.conftest import (
    LIMITS,
    OnlinePlayers,
    RecordingBoards,
    RecordingNotifier,
    mm_store,
)
from tests.integration.shard_helpers import frozen, shard_of

OPEN_PARTITION = PartitionKeys(partition_code("open", "any"))


def impatient(
    valkey: ValkeyCluster, clock: FixedClock, wait_replicas: int = 2, wait_timeout_ms: int = 50
) -> MatchmakingService:
    """A service on the same queues; by default it asks for more replicas than exist."""
    return MatchmakingService(
        mm_store(valkey, WritePolicy(wait_replicas, wait_timeout_ms)),
        clock,
        OnlinePlayers(),
        RecordingBoards(),
        queues=(),
        limits=LIMITS,
    )


async def player_on_another_shard(valkey: ValkeyCluster, avoid: str) -> str:
    """A player id whose live-ticket pointer is on another shard than key `avoid`."""
    primary, _ = await shard_of(valkey, avoid)
    for i in range(100):
        player = f"x{i}"
        node = valkey.get_node_from_key(player_ticket_key(player))
        if node is not None and node.name != primary.name:
            return player
    raise AssertionError("no such player")


async def test_an_unconfirmed_join_leaves_the_player_free_to_join(
    service: MatchmakingService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    with pytest.raises(Unconfirmed):
        await impatient(valkey, clock).join("open", "p1")
    assert await service.status(await service.join("open", "p1")) == "searching"


async def test_a_join_whose_ticket_is_unconfirmed_keeps_its_claim(
    service: MatchmakingService, valkey: ValkeyCluster, clock: FixedClock, embedded_cluster: Any
) -> None:
    patient = impatient(valkey, clock, wait_replicas=1, wait_timeout_ms=300)
    await patient.join("open", "warm")  # registers the partition, confirmed
    player = await player_on_another_shard(valkey, OPEN_PARTITION.stream)
    _, replica = await shard_of(valkey, OPEN_PARTITION.stream)
    async with frozen(embedded_cluster, int(replica.port)):
        with pytest.raises(Unconfirmed):
            await patient.join("open", player)
    # The ticket is stored and searching; its claim keeps the player from a second one.
    with pytest.raises(Conflict):
        await service.join("open", player)
    claim = await valkey.get(player_ticket_key(player))
    assert claim is not None
    assert await service.status(claim.decode().split()[0]) == "searching"


async def test_a_commit_no_replica_confirms_is_pushed_only_once_confirmed(
    service: MatchmakingService,
    valkey: ValkeyCluster,
    clock: FixedClock,
    notifier: RecordingNotifier,
    embedded_cluster: EmbeddedCluster,
) -> None:
    worker = MatchmakingWorker(
        mm_store(valkey, WritePolicy(1, 300)), clock, notifier, "w1", limits=LIMITS
    )
    t1 = await service.join("open", "p1")
    await worker.run_once()  # takes the partition over; p1 waits alone
    t2 = await service.join("open", "p2")
    _, replica = await shard_of(valkey, OPEN_PARTITION.stream)
    async with frozen(embedded_cluster, int(replica.port)):
        assert (await worker.run_once()).matches == 0
    # Committed on the primary, but nobody was told.
    assert [await service.status(t) for t in (t1, t2)] == ["matched", "matched"]
    assert notifier.found == []
    await worker.run_once()
    await worker.run_once()
    assert [e["ticket"] for e in notifier.found_for("p1")] == [t1]
    assert [e["ticket"] for e in notifier.found_for("p2")] == [t2]


async def test_an_unconfirmed_result_rates_once_when_reported_again(
    service: MatchmakingService,
    valkey: ValkeyCluster,
    clock: FixedClock,
    make_worker: Any,
    notifier: RecordingNotifier,
) -> None:
    await service.join("open", "p1")
    await service.join("open", "p2")
    await make_worker().run_once()
    [event] = notifier.found_for("p1")
    winner, loser = event["teams"][0][0], event["teams"][1][0]
    with pytest.raises(Unconfirmed):
        await impatient(valkey, clock).report_result(event["match_id"], [1, 2])
    # The repeat answers the recorded result: rated from the default, not twice.
    ratings = await service.report_result(event["match_id"], [1, 2])
    [[expected_winner], [expected_loser]] = rate([[DEFAULT_RATING], [DEFAULT_RATING]], [1, 2])
    assert (ratings[winner], ratings[loser]) == (expected_winner, expected_loser)
    assert await service.rating_of(winner) == expected_winner


async def test_an_unconfirmed_cancel_is_confirmed_by_its_repeat(
    service: MatchmakingService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    ticket = await service.join("open", "p1")
    with pytest.raises(Unconfirmed):
        await impatient(valkey, clock).cancel("p1", ticket)
    await service.cancel("p1", ticket)
    assert await service.status(ticket) == "cancelled"


async def test_an_unconfirmed_queue_exists_and_a_second_create_conflicts(
    service: MatchmakingService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    with pytest.raises(Unconfirmed):
        await impatient(valkey, clock).create_queue(QueueConfig(name="late"))
    assert (await service.queue("late")).name == "late"
    with pytest.raises(Conflict):
        await service.create_queue(QueueConfig(name="late"))
