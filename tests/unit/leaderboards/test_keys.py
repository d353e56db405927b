"""Key layout: sub-board tags spread over equal slot ranges; players stay put."""

from __future__ import annotations

from collections import Counter

import pytest
from valkey.crc import key_slot

from domain.leaderboards.keys import bucket_of, sub_board_of, sub_board_tags, sub_boards_of


@pytest.mark.parametrize("count", [1, 2, 3, 6, 12, 64])
def test_sub_board_i_sits_in_the_middle_of_the_ith_slot_range(count: int) -> None:
    width = 16384 / count
    for index, tag in enumerate(sub_board_tags("global", count)):
        slot = key_slot(tag.encode())
        assert index * width + width / 4 - 1 <= slot < (index + 1) * width - width / 4 + 1


def test_all_keys_of_a_sub_board_share_its_slot() -> None:
    for sub in sub_boards_of("weekly", 6):
        names = [
            sub.state,
            sub.channel,
            sub.zset(3, "2026-W48"),
            sub.meta(3, "2026-W48"),
            sub.bucket(3, "2026-W48", 17),
            sub.requests(3, "p1"),
        ]
        assert len({key_slot(name.encode()) for name in names}) == 1


def test_players_spread_evenly_and_always_map_to_the_same_place() -> None:
    players = [f"player{i}" for i in range(60_000)]
    subs = Counter(sub_board_of(p, 6) for p in players)
    assert all(9_000 < n < 11_000 for n in subs.values())
    buckets = Counter(bucket_of(p, 6, 16) for p in players)
    assert all(3_000 < n < 4_500 for n in buckets.values())
    assert sub_board_of("player1", 6) == sub_board_of("player1", 6)
