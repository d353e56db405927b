"""Boards: defaults, create (409 if it exists), list with counts, inspect, delete, reset."""

from __future__ import annotations

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.errors import BoardNotFound, Conflict, PlayerNotFound
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService


async def test_the_default_boards_exist_once(service: LeaderboardService) -> None:
    await service.ensure_ready()
    summaries = await service.list_boards()
    assert [(s.board.name, s.board.config.reset, s.count) for s in summaries] == [
        ("global", "never", 0),
        ("weekly", "weekly", 0),
    ]


async def test_creating_an_existing_board_is_a_conflict(service: LeaderboardService) -> None:
    created = await service.create_board(BoardConfig("speedrun", order="asc"))
    assert created.config.order == "asc"
    with pytest.raises(Conflict):
        await service.create_board(BoardConfig("speedrun"))
    with pytest.raises(Conflict):
        await service.create_board(BoardConfig("global"))


async def test_every_gateway_sees_the_same_boards(
    service: LeaderboardService, other_gateway: LeaderboardService
) -> None:
    other = other_gateway
    await service.create_board(BoardConfig("shared", operator="incr"))
    assert (await other.get_board("shared")).config.operator == "incr"
    await other.submit("shared", "a", 3)
    summaries = {s.board.name: s.count for s in await service.list_boards()}
    assert summaries == {"global": 0, "weekly": 0, "shared": 1}


async def test_inspect_shows_config_count_and_top(service: LeaderboardService) -> None:
    for i in range(5):
        await service.submit("global", f"p{i}", i)
    view = await service.inspect("global", limit=2)
    assert (view.board.name, view.period, view.count) == ("global", "all", 5)
    assert [e.player_id for e in view.page.entries] == ["p4", "p3"]
    more = await service.inspect("global", limit=3, cursor=view.page.next_cursor)
    assert [(e.rank, e.player_id) for e in more.page.entries] == [(3, "p2"), (4, "p1"), (5, "p0")]
    assert more.page.next_cursor is None


async def test_a_deleted_board_is_gone_and_comes_back_empty(
    service: LeaderboardService, other_gateway: LeaderboardService, admin_valkey: ValkeyCluster
) -> None:
    valkey = admin_valkey  # listing keys is for operators
    other = other_gateway
    await service.create_board(BoardConfig("doomed"))
    await other.submit("doomed", "a", 1)  # `other` now caches the board
    assert len([k async for k in valkey.scan_iter(match="*doomed*:z")]) == 1
    await service.delete_board("doomed")
    for call in (
        service.top("doomed"),
        service.submit("doomed", "a", 2),
        other.submit("doomed", "b", 2),
        service.delete_board("doomed"),
    ):
        with pytest.raises(BoardNotFound):
            await call
    assert [k async for k in valkey.scan_iter(match="*doomed*:z")] == []
    await service.create_board(BoardConfig("doomed"))
    assert await service.count("doomed") == 0


async def test_a_reset_archives_the_entries_and_starts_empty(
    service: LeaderboardService, other_gateway: LeaderboardService, admin_valkey: ValkeyCluster
) -> None:
    other = other_gateway
    await service.submit("global", "a", 5)
    await other.submit("global", "b", 7)  # `other` now caches the board
    assert await service.reset("global") == "all.1"
    assert await service.count("global") == 0
    # A gateway with a cached config still writes into the new period.
    result = await other.submit("global", "c", 1)
    assert (result.rank, result.previous_rank) == (1, None)
    archived = await service.top("global", period="all")
    assert [e.player_id for e in archived.entries] == ["b", "a"]
    assert [e.player_id for e in (await service.top("global")).entries] == ["c"]
    board = await service.get_board("global")
    ttl = await admin_valkey.ttl(f"lb:{{global.0.1}}:{board.gen}:all:z")
    assert ttl in (-2, board.config.retention_s) or 0 < ttl <= board.config.retention_s
    assert await service.reset("global") == "all.2"
    assert [e.player_id for e in (await service.top("global", period="all.1")).entries] == ["c"]


async def test_removing_a_player_closes_up_the_ranks(service: LeaderboardService) -> None:
    for i, player in enumerate(["a", "b", "c", "d"]):
        await service.submit("global", player, 10 - i)
    await service.remove_player("global", "b")
    ranks = await service.ranks_of("global", ["a", "c", "d"])
    assert [ranks[p].rank for p in ("a", "c", "d")] == [1, 2, 3]
    with pytest.raises(PlayerNotFound):
        await service.rank("global", "b")
    with pytest.raises(PlayerNotFound):
        await service.remove_player("global", "b")
    assert (await service.submit("global", "b", 1)).previous_rank is None


async def test_boards_of_a_player(service: LeaderboardService) -> None:
    await service.submit("global", "a", 3)
    await service.submit("global", "z", 9)
    await service.submit("weekly", "a", 4)
    boards = await service.boards_of_player("a")
    assert [(name, e.rank, e.score) for name, e in boards] == [("global", 2, 3), ("weekly", 1, 4)]
    assert await service.boards_of_player("nobody") == []
