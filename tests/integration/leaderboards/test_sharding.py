"""Sharded storage: a board's sub-boards spread over every primary; players stay put."""

from __future__ import annotations

from collections import Counter

from valkey.asyncio.cluster import ValkeyCluster
from valkey.crc import key_slot

from domain.leaderboards.keys import sub_board_of, sub_boards_of
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService


async def _owners(valkey: ValkeyCluster) -> dict[tuple[int, int], tuple[str, int]]:
    slots = await valkey.execute_command("CLUSTER SLOTS", target_nodes=valkey.get_random_node())
    return {(int(lo), int(hi)): tuple(info["primary"]) for (lo, hi), info in slots.items()}


def _owner(owners: dict[tuple[int, int], tuple[str, int]], key: str) -> tuple[str, int]:
    slot = key_slot(key.encode())
    return next(node for (lo, hi), node in owners.items() if lo <= slot <= hi)


async def test_the_sub_boards_of_a_board_sit_on_all_three_primaries(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    owners = await _owners(valkey)
    assert len(set(owners.values())) == 3
    for name, count in (("spread", 6), ("wide", 12), ("narrow", 3)):
        await service.create_board(BoardConfig(name, sub_boards=count))
        board = await service.get_board(name)
        zsets = [sub.zset(board.gen, "all") for sub in sub_boards_of(name, count)]
        per_primary = Counter(_owner(owners, key) for key in zsets)
        assert len(per_primary) == 3
        assert set(per_primary.values()) == {count // 3}


async def test_entries_are_stored_on_every_primary(
    service: LeaderboardService, admin_valkey: ValkeyCluster
) -> None:
    valkey = admin_valkey  # DBSIZE is for operators
    await service.create_board(BoardConfig("spread", sub_boards=6))
    for i in range(60):
        await service.submit("spread", f"spread{i}", i)
    sizes = [
        await valkey.execute_command("DBSIZE", target_nodes=node) for node in valkey.get_primaries()
    ]
    assert all(size > 10 for size in sizes)


async def test_a_player_always_lives_in_the_same_sub_board(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    await service.create_board(BoardConfig("spread", sub_boards=6))
    board = await service.get_board("spread")
    subs = sub_boards_of("spread", 6)
    for value in (5, 9, 12):
        await service.submit("spread", "stayer", value)
        holders = [sub.index for sub in subs if await valkey.zcard(sub.zset(board.gen, "all"))]
        assert holders == [sub_board_of("stayer", 6)]


async def test_reads_and_writes_follow_a_stale_slot_map(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    await service.create_board(BoardConfig("spread", sub_boards=6))
    for i in range(30):
        await service.submit("spread", f"m{i}", i)
    board = await service.get_board("spread")

    def misroute() -> None:
        # Point every sub-board's slot at a wrong primary, as after a failover or a move.
        manager = valkey.nodes_manager
        for sub in sub_boards_of("spread", 6):
            slot = key_slot(sub.zset(board.gen, "all").encode())
            owner = manager.slots_cache[slot][0]
            wrong = next(p for p in valkey.get_primaries() if p.name != owner.name)
            manager.slots_cache[slot] = [wrong]

    misroute()
    page = await service.top("spread", limit=100)
    assert [e.player_id for e in page.entries] == [f"m{i}" for i in reversed(range(30))]
    misroute()
    result = await service.submit("spread", "m0", 100)
    assert (result.rank, result.previous_rank) == (1, 30)
