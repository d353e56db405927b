"""Exact ranks in as few rounds as the data allows, and exact whatever shortcut fails.

A rank needs, from every sub-board, the entries better than the player. The call that
finds the player (or writes its score) also counts in the other sub-boards the slot map
places on the same primary; the remaining primaries are asked about the player's last
position this gateway saw, in the same round. The map can be out of date (a sub-board
the node does not serve is refused there) and the player may have moved since (another
gateway wrote it): either way, what is missing is counted in a second round.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards.keys import sub_board_of
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from domain.leaderboards.store import LeaderboardStore
from domain.storage.shard_calls import ShardCaller
from tests.integration.leaderboards.helpers import MirroredBoard
from tests.integration.leaderboards.model import ModelBoard

Oracle = Callable[[ShardCaller, str, Sequence[str]], list[bool]]


def _everything_here(_: ShardCaller, __: str, keys: Sequence[str]) -> list[bool]:
    return [True] * len(keys)


def _nothing_here(_: ShardCaller, __: str, keys: Sequence[str]) -> list[bool]:
    return [False] * len(keys)


async def test_the_primary_of_a_player_counts_its_other_sub_board(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    # 6 sub-boards over 3 primaries: two per primary, so each has one sibling.
    await service.create_board(BoardConfig("spread", sub_boards=6))
    for i in range(40):
        await service.submit("spread", f"sib{i}", i % 7)
    board = await service.get_board("spread")
    store = LeaderboardStore(ShardCaller(valkey))
    for index in range(6):
        assert len(store.siblings(board, "all", index)) == 1
    found = await store.find(board, "all", [f"sib{i}" for i in range(40)], with_meta=False)
    for player, where in found.items():
        own = sub_board_of(player, 6)
        ((sibling, _, _),) = store.siblings(board, "all", own)
        assert list(where.sibling_better) == [sibling]
        # Both sub-boards read by that call report the stamp they counted at.
        assert set(where.stamps) == {own, sibling}


@pytest.mark.parametrize(
    "placement",
    [None, _everything_here, _nothing_here],
    ids=["slot map", "map says every sub-board is here", "map says none is"],
)
async def test_ranks_stay_exact_whatever_the_slot_map_says(
    other_gateway: LeaderboardService,
    monkeypatch: pytest.MonkeyPatch,
    placement: Oracle | None,
) -> None:
    if placement is not None:
        monkeypatch.setattr(ShardCaller, "colocated", placement)
    # Sibling placement is read from the (patched) slot map on every call.
    service = other_gateway
    rng = random.Random(7)
    model = ModelBoard("desc", "set")
    await service.create_board(BoardConfig("siblings", order="desc", operator="set", sub_boards=6))
    players = [f"s{i:03d}" for i in range(150)]
    for _ in range(400):
        player, value = rng.choice(players), float(rng.randint(0, 20))
        got = await service.submit("siblings", player, value)
        assert (got.score, got.rank, got.previous_rank) == model.submit(player, value)
    ranks = await service.ranks_of("siblings", players)
    assert {p: r.rank for p, r in ranks.items()} == model.ranks()
    for player in rng.sample(model.ordered(), 20):
        assert (await service.rank("siblings", player)).rank == model.rank(player)


async def test_ranks_stay_exact_when_another_gateway_moves_the_players(
    service: LeaderboardService, other_gateway: LeaderboardService
) -> None:
    # `service` remembers where it last saw each player (ranks, windows); the other
    # gateway moves them behind its back, removes some and brings some back.
    config = BoardConfig("moved", order="asc", operator="best", sub_boards=6)
    board = await MirroredBoard.create(other_gateway, config)
    model = board.model
    rng = random.Random(3)
    players = [f"v{i:02d}" for i in range(60)]
    await board.seed(players, rng, 40)
    moved = players[0]
    for step in range(60):
        # First about the player just moved: what `service` remembers of it is stale.
        if moved in model.entries:
            at = model.rank(moved) - 1
            if step % 2:
                assert (await service.rank("moved", moved)).rank == model.rank(moved)
            window = await service.around("moved", moved, 3)
            assert [e.player_id for e in window] == model.ordered()[max(0, at - 3) : at + 4]
            assert window[0].rank == max(1, at - 2)
        ranks = await service.ranks_of("moved", players)
        assert {p: r.rank for p, r in ranks.items()} == model.ranks(), step
        moved = rng.choice(players)
        if moved in model.entries and rng.random() < 0.2:
            await board.remove(moved)
        else:
            await board.submit(moved, float(rng.randint(0, 40)))
