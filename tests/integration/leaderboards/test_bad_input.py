"""Every bad input is answered with an error and changes nothing in Valkey."""

from __future__ import annotations

import math
from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.errors import BadRequest, BoardNotFound, Conflict, DomainError, PlayerNotFound
from domain.leaderboards.codec import encode_cursor
from domain.leaderboards.models import BoardConfig, Position
from domain.leaderboards.service import LeaderboardService
from tests.integration.leaderboards.helpers import snapshot

FOREIGN_CURSOR = encode_cursor("weekly", "all", Position(-1.0, 1, "a"))

BAD_CALLS: list[tuple[str, tuple[Any, ...], type[DomainError]]] = [
    ("submit", ("global", "a b", 1), BadRequest),
    ("submit", ("global", "", 1), BadRequest),
    ("submit", ("global", "a", "1"), BadRequest),
    ("submit", ("global", "a", True), BadRequest),
    ("submit", ("global", "a", None), BadRequest),
    ("submit", ("global", "a", math.nan), BadRequest),
    ("submit", ("global", "a", math.inf), BadRequest),
    ("submit", ("global", "a", 2**53 + 1), BadRequest),
    ("submit", ("global", "a", 1e300), BadRequest),
    ("submit", ("global", "a", 1, [1]), BadRequest),
    ("submit", ("global", "a", 1, {"x": "y" * 1100}), BadRequest),
    ("submit", ("global", "a", 1, {"x": {1, 2}}), BadRequest),
    ("submit", ("global", "a", 1, None, "not ok"), BadRequest),
    ("submit", ("global", "a", 1, None, "r" * 65), BadRequest),
    ("submit", ("bad name", "a", 1), BadRequest),
    ("submit", ("nope", "a", 1), BoardNotFound),
    ("submit", ("coins", "a", 2**53), BadRequest),
    ("top", ("global", 0), BadRequest),
    ("top", ("global", 101), BadRequest),
    ("top", ("global", True), BadRequest),
    ("top", ("global", "10"), BadRequest),
    ("top", ("global", 10, "junk"), BadRequest),
    ("top", ("global", 10, FOREIGN_CURSOR), BadRequest),
    ("top", ("global", 10, None, "2031-W10"), BadRequest),
    ("top", ("nope",), BoardNotFound),
    ("around", ("global", "a", -1), BadRequest),
    ("around", ("global", "a", 51), BadRequest),
    ("around", ("global", "ghost"), PlayerNotFound),
    ("rank", ("global", "ghost"), PlayerNotFound),
    ("rank", ("global", "a/b"), BadRequest),
    ("players", ("global", ["x"] * 101), BadRequest),
    ("players", ("global", ["a b"]), BadRequest),
    ("players", ("global", "a"), BadRequest),
    ("remove_player", ("global", "ghost"), PlayerNotFound),
    ("remove_player", ("global", "a b"), BadRequest),
    ("delete_board", ("nope",), BoardNotFound),
    ("reset", ("nope",), BoardNotFound),
    ("create_board", (BoardConfig("global"),), Conflict),
    ("create_board", ({"name": "x"},), BadRequest),
]


@pytest.fixture
async def populated(service: LeaderboardService) -> LeaderboardService:
    await service.create_board(BoardConfig("coins", operator="incr"))
    await service.submit("coins", "a", 2**53 - 1)
    for i, player in enumerate(["a", "b", "c"]):
        await service.submit("global", player, 10 * i, {"i": i})
    return service


async def test_bad_inputs_are_errors_that_change_nothing(
    populated: LeaderboardService, admin_valkey: ValkeyCluster
) -> None:
    before = await snapshot(admin_valkey)
    assert before
    for method, args, error in BAD_CALLS:
        with pytest.raises(error):
            await getattr(populated, method)(*args)
    assert await snapshot(admin_valkey) == before
