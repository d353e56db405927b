"""Losing a primary: acknowledged scores survive, a retried submit applies once."""

from __future__ import annotations

import asyncio

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.errors import Unavailable
from domain.leaderboards.keys import sub_board_of, sub_boards_of
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from gameserver.embedded import EmbeddedCluster
from tests.integration.leaderboards.helpers import players_in_distinct_sub_boards


@pytest.mark.slow
async def test_acknowledged_scores_survive_the_loss_of_their_primary(
    service: LeaderboardService, valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    await service.create_board(BoardConfig("durable", operator="incr", sub_boards=6))
    players = players_in_distinct_sub_boards(6)
    for player in players:
        await service.submit("durable", player, 10)
    victim = players[0]
    board = await service.get_board("durable")
    sub = sub_boards_of("durable", 6)[sub_board_of(victim, 6)]
    primary = valkey.get_node_from_key(sub.zset(board.gen, "all"))
    assert primary is not None

    embedded_cluster.kill_node(int(primary.port))
    try:
        # The promoted replica has no replica of its own: no write there is acknowledged.
        with pytest.raises(Unavailable):
            await service.submit("durable", victim, 5, request_id="after-crash")
    finally:
        await asyncio.to_thread(embedded_cluster.restart_node, int(primary.port))

    retried = await service.submit("durable", victim, 5, request_id="after-crash")
    assert retried.score == 15
    ranks = await service.ranks_of("durable", players)
    assert {p: r.score for p, r in ranks.items()} == {p: 15 if p == victim else 10 for p in players}
