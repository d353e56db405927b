"""The durability drill: every acknowledged write survives kill -9 of the primary that held it.

Sessions, session values, matchmaking joins, a match and its result, a cancel and
leaderboard scores are all written through the services with `wait_replicas=1`, on
keys chosen to live on the primary that holds the ratings. That primary is killed with
SIGKILL; once its replica is promoted, every acknowledged write must read back the same.
The new primary has no replica, so a write there is `Unconfirmed`, never ok. The killed
node then rejoins as a replica, and the test waits until the cluster is whole again (3
primaries, each with its replica in sync) for the tests that follow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from valkey.asyncio.cluster import ClusterNode, ValkeyCluster

from domain.clock import FixedClock
from domain.errors import Unavailable
from domain.leaderboards.keys import sub_board_of, sub_boards_of
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import QueueConfig, SkillWindow
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.store import (
    RATINGS_KEY,
    MatchmakingStore,
    PartitionKeys,
    partition_code,
    player_ticket_key,
)
from domain.matchmaking.worker import MatchmakingWorker
from domain.sessions.service import SessionService
from domain.sessions.store import SessionStore, session_key
from domain.storage.shard_calls import ShardCaller, WritePolicy
from gameserver.embedded import EmbeddedCluster
from tests.integration.shard_helpers import shard_of, wait_promoted

# The production defaults: one replica confirms every acknowledged write within 1 s.
WRITES = WritePolicy(wait_replicas=1, wait_timeout_ms=1000)
LIMITS = MatchmakingLimits(lease_s=5.0, tick_s=0.05)
BOARD = "drill"
SUB_BOARDS = 6


class Pushes:
    """MatchNotifier that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []

    async def match_found(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        self.found.append(event)

    async def ticket_expired(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        pass


def first_matching(prefix: str, wanted: Callable[[str], bool], count: int) -> list[str]:
    found = [name for name in (f"{prefix}{i}" for i in range(5000)) if wanted(name)]
    assert len(found) >= count, f"only {len(found)} names with prefix {prefix}"
    return found[:count]


@pytest.mark.timeout(90)
async def test_acknowledged_writes_survive_kill_9_of_their_primary(
    valkey: ValkeyCluster, admin_valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    clock = FixedClock(time.time())
    sessions = SessionService(
        SessionStore(ShardCaller(valkey), writes=WRITES),
        secret=b"drill",
        clock=clock,
        ttl_s=600,
        token_lifetime_s=3600,
        values_max_bytes=4096,
    )
    boards = LeaderboardService(ShardCaller(valkey), clock, WRITES, default_boards=())
    matchmaking = MatchmakingService(
        MatchmakingStore(ShardCaller(valkey), writes=WRITES),
        clock,
        sessions,
        queues=(),
        limits=LIMITS,
    )
    pushes = Pushes()
    worker = MatchmakingWorker(
        MatchmakingStore(ShardCaller(valkey), writes=WRITES),
        clock,
        pushes,
        "drill",
        limits=LIMITS,
    )
    for service in (sessions, boards, matchmaking):
        await service.ensure_ready()
    await boards.create_board(BoardConfig(BOARD, operator="set", sub_boards=SUB_BOARDS))
    board = await boards.get_board(BOARD)

    # Everything on the primary of the ratings: one kill takes it all.
    victim, heir = await shard_of(valkey, RATINGS_KEY)
    subs = sub_boards_of(BOARD, SUB_BOARDS)

    def on_victim(*keys: str) -> bool:
        return all(_name(valkey.get_node_from_key(key)) == victim.name for key in keys)

    def colocated(player: str) -> bool:
        sub = subs[sub_board_of(player, SUB_BOARDS)].zset(board.gen, "all")
        return on_victim(session_key(player), player_ticket_key(player), sub)

    [queue] = first_matching(
        "drill", lambda q: on_victim(PartitionKeys(partition_code(q, "any")).stream), 1
    )
    players = first_matching("d", colocated, 6)
    duel_a, duel_b, waiting, leaving, late, _ = players
    open_window = SkillWindow(start=100.0, widen_per_s=0.0, max=100.0)
    await matchmaking.create_queue(QueueConfig(name=queue, window=open_window))

    # The acknowledged writes.
    logins = {p: await sessions.create(p) for p in players}
    await sessions.set_values(duel_a, logins[duel_a].session_id, {"deck": ["ace", 7]})
    await matchmaking.join(queue, duel_a)
    await matchmaking.join(queue, duel_b)
    assert (await worker.run_once()).matches == 1
    [found, _] = pushes.found
    ratings = await matchmaking.report_result(found["match_id"], [1, 2])
    searching = await matchmaking.join(queue, waiting)
    cancelled = await matchmaking.join(queue, leaving)
    await matchmaking.cancel(leaving, cancelled)
    scores = {p: float(10 * i + 1) for i, p in enumerate(players)}
    for player, score in scores.items():
        await boards.submit(BOARD, player, score)

    embedded_cluster.kill_node(int(victim.port))
    try:
        await wait_promoted(embedded_cluster, int(heir.port))
        await valkey.nodes_manager.initialize()

        for player, login in logins.items():
            kept = await sessions.get(player)
            assert kept is not None and kept.session_id == login.session_id
        assert await sessions.get_values(duel_a) == {"deck": ["ace", 7]}
        assert (await matchmaking.queue(queue)).name == queue
        assert await matchmaking.status(searching) == "searching"
        assert await matchmaking.status(cancelled) == "cancelled"
        for player, rating in ratings.items():
            assert await matchmaking.rating_of(player) == rating
        for player, score in scores.items():
            assert (await boards.rank(BOARD, player)).score == score

        # The promoted replica has no replica of its own: nothing there is acknowledged.
        with pytest.raises(Unavailable):
            await sessions.create(late)
    finally:
        await asyncio.to_thread(embedded_cluster.restart_node, int(victim.port))
        await valkey.nodes_manager.initialize()

    await admin_valkey.nodes_manager.initialize()
    assert await shard_has_replica(admin_valkey, heir)
    assert (await sessions.create(late)).player_id == late
    # The recorded result, not a second rating: the result itself survived.
    assert await matchmaking.report_result(found["match_id"], [1, 2]) == ratings


def _name(node: ClusterNode | None) -> str | None:
    return None if node is None else node.name


async def shard_has_replica(valkey: ValkeyCluster, primary: ClusterNode) -> bool:
    """The killed node came back as the replica of the node that took its place."""
    node = valkey.get_node(node_name=primary.name)
    assert node is not None
    info = await node.execute_command("INFO", "replication")
    return bool(info["role"] == "master" and int(info["connected_slaves"]) == 1)
