"""Ties go to who reached the score first, across shards, on desc and asc boards."""

from __future__ import annotations

import pytest

from domain.leaderboards.models import BoardConfig, Operator, Order
from domain.leaderboards.service import LeaderboardService
from tests.integration.leaderboards.helpers import players_in_distinct_sub_boards

ORDERS: list[Order] = ["desc", "asc"]


async def _ids(service: LeaderboardService, board: str) -> list[str]:
    return [entry.player_id for entry in (await service.top(board, limit=100)).entries]


@pytest.mark.parametrize("order", ORDERS)
async def test_a_tie_goes_to_the_earlier_score_across_sub_boards(
    service: LeaderboardService, order: Order
) -> None:
    await service.create_board(BoardConfig("ties", order=order, sub_boards=6))
    players = players_in_distinct_sub_boards(12)
    # Submit in an order unrelated to the ids, all at one score.
    order_of_arrival = players[5:] + players[:5]
    for i, player in enumerate(order_of_arrival):
        result = await service.submit("ties", player, 50)
        assert result.rank == i + 1
    assert await _ids(service, "ties") == order_of_arrival
    ranks = await service.ranks_of("ties", players)
    assert [ranks[p].rank for p in order_of_arrival] == list(range(1, 13))


@pytest.mark.parametrize(("order", "better", "worse"), [("desc", 60, 40), ("asc", 40, 60)])
async def test_order_decides_which_score_is_better(
    service: LeaderboardService, order: Order, better: int, worse: int
) -> None:
    await service.create_board(BoardConfig("ordered", order=order, sub_boards=6))
    await service.submit("ordered", "a", worse)
    result = await service.submit("ordered", "b", better)
    assert (result.rank, result.previous_rank) == (1, None)
    kept = await service.submit("ordered", "b", worse)
    assert (kept.score, kept.rank, kept.previous_rank, kept.changed) == (better, 1, 1, False)
    assert await _ids(service, "ordered") == ["b", "a"]


async def test_setting_the_same_score_keeps_the_time_it_was_reached(
    service: LeaderboardService,
) -> None:
    await service.create_board(BoardConfig("sets", operator="set", sub_boards=6))
    first, second = players_in_distinct_sub_boards(2)
    await service.submit("sets", first, 10)
    await service.submit("sets", second, 10)
    await service.submit("sets", first, 10)
    assert await _ids(service, "sets") == [first, second]
    await service.submit("sets", first, 9)
    await service.submit("sets", first, 10)
    assert await _ids(service, "sets") == [second, first]


async def test_an_increment_reaches_its_score_when_it_is_made(
    service: LeaderboardService,
) -> None:
    await service.create_board(BoardConfig("incs", operator="incr", sub_boards=6))
    early, late = players_in_distinct_sub_boards(2)
    await service.submit("incs", late, 5)
    await service.submit("incs", early, 10)
    result = await service.submit("incs", late, 5)
    assert (result.score, result.rank, result.previous_rank) == (10, 2, 2)
    assert await _ids(service, "incs") == [early, late]


@pytest.mark.parametrize("operator", ["best", "set"])
async def test_scores_up_to_2_pow_53_stay_distinct(
    service: LeaderboardService, operator: Operator
) -> None:
    await service.create_board(BoardConfig("exact", operator=operator, sub_boards=6))
    values = [2**53, 2**53 - 1, 0.30000000000000004, 0.3, -0.0, -(2**53), 1e-300, 2.5]
    players = players_in_distinct_sub_boards(len(values))
    for player, value in zip(players, values, strict=True):
        assert (await service.submit("exact", player, value)).score == value
    entries = (await service.top("exact", limit=100)).entries
    assert [e.score for e in entries] == sorted(values, reverse=True)
    assert [e.player_id for e in entries][:2] == players[:2]
