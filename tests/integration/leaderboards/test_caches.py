"""The read path's caches (domain/leaderboards/caches.py) only save calls and rounds: a
gateway with them and one without give the same answers, read after read, while the
board changes under them through either gateway or a third one."""

from __future__ import annotations

import random
from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from domain.storage.shard_calls import ShardCaller, WritePolicy
from tests.integration.leaderboards.helpers import MirroredBoard


def _gateway(valkey: ValkeyCluster, clock: FixedClock, caches: bool) -> LeaderboardService:
    return LeaderboardService(
        ShardCaller(valkey),
        clock,
        WritePolicy(1, 2000),
        default_boards=(),
        caches=caches,
        config_ttl_s=1.0 if caches else 0.0,
    )


async def _answers(
    reader: LeaderboardService, board: str, players: list[str], present: list[str]
) -> dict[str, Any]:
    """What a client could read of the board, in an order that exercises the caches:
    pages read twice and continued, ranks of players seen before, windows."""
    first = await reader.top(board, limit=12)
    answers: dict[str, Any] = {"top": first, "again": await reader.top(board, limit=12)}
    if first.next_cursor is not None:
        answers["next"] = await reader.top(board, limit=12, cursor=first.next_cursor)
    ranks = await reader.ranks_of(board, players)
    answers["ranks"] = {p: (r.rank, r.score, r.position) for p, r in ranks.items()}
    answers["players"] = await reader.players(board, players[:20])
    for player in present:
        answers[f"rank {player}"] = await reader.rank(board, player)
        answers[f"around {player}"] = await reader.around(board, player, 2)
    return answers


@pytest.mark.parametrize("sub_boards", [1, 6])
async def test_a_gateway_without_caches_reads_exactly_what_one_with_them_reads(
    valkey: ValkeyCluster, clock: FixedClock, sub_boards: int
) -> None:
    writer = _gateway(valkey, clock, caches=True)
    cached, plain = _gateway(valkey, clock, caches=True), _gateway(valkey, clock, caches=False)
    name = f"caches{sub_boards}"
    board = await MirroredBoard.create(
        writer, BoardConfig(name, order="desc", operator="set", sub_boards=sub_boards)
    )
    model = board.model
    rng = random.Random(sub_boards)
    players = [f"c{i:02d}" for i in range(50)]
    await board.seed(players[:30], rng, 20)
    for step in range(80):
        present = rng.sample(sorted(model.entries), min(3, len(model.entries)))
        with_caches = await _answers(cached, name, players, present)
        without = await _answers(plain, name, players, present)
        assert with_caches == without, step
        ranks = {p: rank for p, (rank, _, _) in with_caches["ranks"].items()}
        assert ranks == model.ranks(), step
        # Writes through the third gateway and through each reader, so what a reader
        # remembers of positions goes stale behind its back and is renewed by its own.
        player, roll = rng.choice(players), rng.random()
        board.writer = rng.choice([writer, cached, plain])
        if roll < 0.15 and player in model.entries:
            await board.remove(player)
        elif roll < 0.35 and player in model.entries:
            await board.submit(player, model.score(player), {"step": step})
        else:
            await board.submit(player, float(rng.randint(0, 20)))
