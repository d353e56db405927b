"""The raw baseline: valkey-py's asyncio cluster client doing what each op boils down to.

score.submit ~ ZADD (and ZADD + WAIT 1, what a durable write costs), board.rank ~ ZREVRANK,
board.top ~ ZRANGE 0 99 REV WITHSCORES, ping ~ PING, on a sorted set of the same size as
the gateway's board, in the same cluster, with the same number of concurrent callers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import valkey.asyncio as valkey_asyncio
from valkey.asyncio.cluster import ClusterNode, ValkeyCluster

from loadtest.bench.loops import Operation

# One hash slot for the whole board, as a leaderboard shard would be.
RAW_BOARD_KEY = "bench:raw:{board}"
FILL_BATCH = 1000


def connect_cluster(
    nodes: Sequence[tuple[str, int]], login: tuple[str, str] | None = None
) -> ValkeyCluster:
    """`login`: (username, password) of a user allowed the raw key, e.g. the admin of
    `gameserver up`'s credentials.json."""
    username, password = login if login is not None else (None, None)
    return ValkeyCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=username,
        password=password,
        decode_responses=False,
        max_connections=1024,
    )


async def fill_board(cluster: ValkeyCluster, members: dict[str, float]) -> None:
    """The raw board: exactly these members, nothing else."""
    await cluster.delete(RAW_BOARD_KEY)
    items = list(members.items())
    for start in range(0, len(items), FILL_BATCH):
        await cluster.zadd(RAW_BOARD_KEY, dict(items[start : start + FILL_BATCH]))


def raw_operations(
    cluster: ValkeyCluster, operation: str, members: Sequence[str]
) -> list[Operation]:
    """One operation per concurrent caller; caller i acts as player `members[i]`."""
    return [_operation(cluster, operation, member) for member in members]


def _operation(cluster: ValkeyCluster, operation: str, member: str) -> Operation:
    key = RAW_BOARD_KEY
    scores = itertools.count(2_000_000)
    primary = cluster.get_node_from_key(key)

    async def ping() -> str | None:
        await cluster.execute_command("PING", target_nodes=primary)
        return None

    async def zadd() -> str | None:
        await cluster.zadd(key, {member: next(scores)})
        return None

    async def zrevrank() -> str | None:
        await cluster.zrevrank(key, member)
        return None

    async def zrange_top() -> str | None:
        await cluster.execute_command("ZRANGE", key, 0, 99, "REV", "WITHSCORES")
        return None

    table: dict[str, Operation] = {
        "PING": ping,
        "ZADD": zadd,
        "ZREVRANK": zrevrank,
        "ZRANGE 0 99 REV WITHSCORES": zrange_top,
    }
    return table[operation]


class DurableWriter:
    """ZADD then WAIT 1 on one connection to the key's primary, in one round trip.

    WAIT counts the writes of its own connection, so the pair must share a connection:
    the cluster client may send them on two (and cannot route a keyless WAIT), hence a
    direct client to the primary per caller.
    """

    def __init__(self, cluster: ValkeyCluster, member: str, wait_timeout_ms: int = 1000) -> None:
        primary = cluster.get_node_from_key(RAW_BOARD_KEY)
        if primary is None:
            raise RuntimeError(f"no primary serves {RAW_BOARD_KEY}")
        # A pipeline sends both commands on one connection of this client.
        self._client: Any = valkey_asyncio.Valkey(
            host=primary.host,
            port=int(primary.port),
            username=primary.connection_kwargs.get("username"),
            password=primary.connection_kwargs.get("password"),
        )
        self._member = member
        self._scores = itertools.count(3_000_000)
        self._timeout_ms = wait_timeout_ms

    async def __call__(self) -> str | None:
        pipe = self._client.pipeline(transaction=False)
        pipe.zadd(RAW_BOARD_KEY, {self._member: next(self._scores)})
        pipe.execute_command("WAIT", 1, self._timeout_ms)
        _, acked = await pipe.execute()
        return None if int(acked) >= 1 else "not_replicated"

    async def aclose(self) -> None:
        await self._client.aclose()


# Gateway op -> the raw command(s) it is compared with.
RAW_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "ping": ("PING",),
    "score.submit": ("ZADD", "ZADD+WAIT"),
    "board.rank": ("ZREVRANK",),
    "board.top": ("ZRANGE 0 99 REV WITHSCORES",),
}
