"""Counting many positions at once in a sub-board gives what counting each alone gives.

A push flush asks a sub-board about hundreds of positions in one call; a small sub-board
then reads all its entries once and merges them with the sorted positions instead of
searching for each. Both ways must agree exactly, ties included.
"""

from __future__ import annotations

import random

from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from domain.leaderboards.store import LeaderboardStore
from domain.storage.shard_calls import ShardCaller


async def test_many_positions_at_once_count_like_each_alone(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    await service.create_board(BoardConfig("counted", order="asc", operator="set", sub_boards=6))
    rng = random.Random(5)
    players = [f"c{i:03d}" for i in range(240)]
    for player in players:
        # Few distinct scores: most positions tie with many entries.
        await service.submit("counted", player, float(rng.randint(0, 12)))
    board = await service.get_board("counted")
    store = LeaderboardStore(ShardCaller(valkey))
    found = await store.find(board, "all", players, with_meta=False)
    positions = [found[p].entry.position for p in players]
    rng.shuffle(positions)
    for index in range(board.config.sub_boards):
        together = await store.count_better(board, "all", {index: positions})
        alone = [
            (await store.count_better(board, "all", {index: [position]}))[index].better[0]
            for position in positions
        ]
        assert together[index].better == alone
