"""Hot pages are not sent twice: a sub-board that has not changed since a gateway last
read its part of a page says so, and the gateway reuses what it holds. Whatever changes a
board, on this gateway or another, shows in the very next page."""

from __future__ import annotations

import random

from domain.leaderboards.models import BoardConfig, Page
from domain.leaderboards.service import LeaderboardService
from tests.integration.leaderboards.helpers import MirroredBoard
from tests.integration.leaderboards.model import ModelBoard


def _rows(page: Page) -> list[tuple[int, str, float, object]]:
    return [(e.rank, e.player_id, e.score, e.metadata) for e in page.entries]


def _expected(model: ModelBoard, limit: int, skip: int = 0) -> list[tuple[int, str, float, object]]:
    ordered = model.ordered()[skip : skip + limit]
    return [(skip + i + 1, p, model.score(p), model.metadata.get(p)) for i, p in enumerate(ordered)]


async def test_a_page_read_again_from_an_unchanged_board_is_reused(
    service: LeaderboardService,
) -> None:
    for i in range(60):
        await service.submit("global", f"r{i}", i % 9)
    first = await service.top("global", limit=25)
    again = await service.top("global", limit=25)
    assert again is first
    await service.submit("global", "r0", 100)
    changed = await service.top("global", limit=25)
    assert changed is not first
    assert changed.entries[0].player_id == "r0"


async def test_every_change_made_by_another_gateway_shows_in_the_next_page(
    service: LeaderboardService, other_gateway: LeaderboardService
) -> None:
    board = await MirroredBoard.create(
        other_gateway, BoardConfig("reuse", operator="set", sub_boards=6)
    )
    model = board.model
    rng = random.Random(11)
    players = [f"q{i:02d}" for i in range(80)]
    await board.seed(players[:40], rng, 30)
    for step in range(150):
        assert _rows(await service.top("reuse", limit=20)) == _expected(model, 20), step
        page = await service.top("reuse", limit=10)
        assert page.next_cursor is not None
        second = await service.top("reuse", limit=10, cursor=page.next_cursor)
        assert _rows(second) == _expected(model, 10, skip=10), step
        roll, player = rng.random(), rng.choice(players)
        if roll < 0.15 and player in model.entries:
            await board.remove(player)
        elif roll < 0.35 and player in model.entries:
            # The same score again: only the metadata (and update time) change.
            await board.submit(player, model.score(player), {"step": step})
        else:
            await board.submit(player, float(rng.randint(0, 30)))
    await other_gateway.reset("reuse")
    # Board configs are cached for a second; a gateway drops them on the reset event.
    service.invalidate("reuse")
    assert (await service.top("reuse", limit=20)).entries == []
