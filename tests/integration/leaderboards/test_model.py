"""A thousand players, random scores and operators: every answer equals the model's."""

from __future__ import annotations

import random

from domain.leaderboards.models import BoardConfig, Operator, Order
from domain.leaderboards.service import LeaderboardService
from tests.integration.leaderboards.model import ModelBoard

PLAYERS = [f"p{i:04d}" for i in range(1000)]
BOARDS: dict[str, tuple[Order, Operator]] = {
    "m-best": ("desc", "best"),
    "m-set": ("asc", "set"),
    "m-incr": ("desc", "incr"),
    "m-decr": ("asc", "decr"),
}


def _value(rng: random.Random) -> float:
    # Mostly small integers, so that many players tie; some halves and huge values.
    roll = rng.random()
    if roll < 0.8:
        return float(rng.randint(-10, 30))
    if roll < 0.9:
        return rng.randint(-40, 40) / 2
    return float(rng.choice([1, -1]) * rng.randint(2**51, 2**52))


async def test_every_rank_page_window_and_subset_equals_the_model(
    service: LeaderboardService,
) -> None:
    rng = random.Random(20261126)
    models = {name: ModelBoard(order, op) for name, (order, op) in BOARDS.items()}
    for name, (order, op) in BOARDS.items():
        await service.create_board(BoardConfig(name, order=order, operator=op))

    writes = [("m-best", p) for p in PLAYERS]
    writes += [(rng.choice(list(BOARDS)), rng.choice(PLAYERS)) for _ in range(1500)]
    for name, player in writes:
        value = _value(rng)
        metadata = {"w": rng.randint(0, 9)} if rng.random() < 0.3 else None
        expected = models[name].submit(player, value, metadata)
        got = await service.submit(name, player, value, metadata)
        assert (got.score, got.rank, got.previous_rank) == expected, (name, player, value)

    for name, model in models.items():
        await _check_board(service, name, model, rng)


async def _check_board(
    service: LeaderboardService, name: str, model: ModelBoard, rng: random.Random
) -> None:
    ranks = model.ranks()
    assert await service.count(name) == len(ranks)

    got = await service.ranks_of(name, list(PLAYERS))
    assert {p: r.rank for p, r in got.items()} == ranks
    assert all(r.score == model.score(p) for p, r in got.items())

    paged: list[str] = []
    cursor = None
    for _ in range(len(ranks) // 37 + 2):
        page = await service.top(name, limit=37, cursor=cursor)
        for entry in page.entries:
            assert entry.rank == len(paged) + 1
            assert entry.score == model.score(entry.player_id)
            assert entry.metadata == model.metadata.get(entry.player_id)
            paged.append(entry.player_id)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert paged == model.ordered()

    ordered = model.ordered()
    for player in rng.sample(ordered, 40):
        radius = rng.randint(0, 50)
        window = await service.around(name, player, radius)
        at = ranks[player] - 1
        expected = ordered[max(0, at - radius) : at + radius + 1]
        assert [e.player_id for e in window] == expected
        assert [e.rank for e in window] == [ranks[p] for p in expected]

    for _ in range(20):
        subset = rng.sample(PLAYERS, rng.randint(1, 100))
        entries = await service.players(name, subset)
        expected_subset = sorted((p for p in subset if p in ranks), key=ranks.__getitem__)
        assert [e.player_id for e in entries] == expected_subset
        assert [e.rank for e in entries] == [ranks[p] for p in expected_subset]
