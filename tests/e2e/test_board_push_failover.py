"""Live board pushes across a failover: pub/sub may lose messages while a primary dies,
yet once writes stop every subscriber's last push is the truth again.

The primary holding one of the board's sub-boards (its events' shard channel too) is
killed with SIGKILL while four players keep writing; its replica takes over, the
gateway's sharded subscriber moves to it, and the flusher's re-check after the board
goes quiet repairs whatever the lost messages left stale.
"""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import AsyncExitStack

from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards.keys import sub_boards_of
from gameserver.embedded import EmbeddedCluster
from tests.cluster_helpers import eventually
from tests.e2e.test_board_push import create_board, drain, named
from tests.game_client import GameClient, game_clients
from tests.gateway_harness import Gateway
from tests.integration.shard_helpers import shard_of, wait_promoted
from tests.integration.test_durability import shard_has_replica

BOARD = "storm"
# The quiet-board re-check (300 ms), a flush retry after a failed query (500 ms) and the
# sharded subscriber's move to the promoted replica, with room to spare.
SETTLE_S = 4.0


async def _write_until(client: GameClient, stop: asyncio.Event, seed: int) -> int:
    """Random scores until `stop`; answers `unavailable` during the failover are expected."""
    rng = random.Random(seed)
    accepted = 0
    while not stop.is_set():
        reply = await client.call("score.submit", board=BOARD, score=rng.randrange(0, 700))
        if reply["ok"]:
            accepted += 1
        else:
            assert reply["error"]["code"] == "unavailable", reply
        await asyncio.sleep(rng.uniform(0, 0.02))
    return accepted


async def test_subscribers_converge_after_the_primary_of_their_board_is_killed(
    gateway: Gateway, admin_valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    valkey = admin_valkey  # INFO replication, below, is for operators
    await create_board(gateway, BOARD, operator="set", sub_boards=6)
    victim, heir = await shard_of(valkey, sub_boards_of(BOARD, 6)[0].state)
    subscribers = [f"s{i}" for i in range(6)]
    async with AsyncExitStack() as stack:
        clients = await game_clients(stack, gateway.base_url, subscribers)
        writers = list(
            (await game_clients(stack, gateway.base_url, [f"w{i}" for i in range(4)])).values()
        )
        replies: dict[str, int | None] = {}
        for i, client in enumerate(clients.values()):
            await client.ok("score.submit", board=BOARD, score=100 * i + 50)
        for pid, client in clients.items():
            drain(client)
            replies[pid] = (await client.ok("board.subscribe", board=BOARD, top=5))["rank"]

        stop = asyncio.Event()
        writing = [asyncio.create_task(_write_until(w, stop, n)) for n, w in enumerate(writers)]
        try:
            await asyncio.sleep(1.0)
            embedded_cluster.kill_node(int(victim.port))
            await wait_promoted(embedded_cluster, int(heir.port))
            promoted_ms = time.time() * 1000
            await asyncio.sleep(1.5)  # writes go on against the promoted replica
        finally:
            stop.set()
            accepted = await asyncio.gather(*writing)
            await asyncio.to_thread(embedded_cluster.restart_node, int(victim.port))
        assert all(count > 0 for count in accepted)
        await asyncio.sleep(SETTLE_S)

        reader = clients["s0"]
        pushed_after_promotion = 0
        for pid, client in clients.items():
            events = drain(client)
            pushed_after_promotion += sum(1 for e in events if e["ts"] > promoted_ms)
            pushes = named(events, "rank.changed")
            last_rank = pushes[-1]["rank"] if pushes else replies[pid]
            truth = await reader.ok("board.rank", board=BOARD, player_id=pid)
            assert last_rank == truth["rank"], (pid, pushes[-3:], truth)
            tops = named(events, "board.top")
            expected = await reader.ok("board.top", board=BOARD, limit=5)
            assert tops and tops[-1]["entries"] == expected["entries"], pid
        assert pushed_after_promotion > 0  # the pushes went on after the failover

    async def replicated_again() -> bool:
        await valkey.nodes_manager.initialize()
        return await shard_has_replica(valkey, heir)

    # Later tests WAIT for a replica on every shard.
    await eventually(replicated_again, timeout_s=30.0, interval_s=0.5)
