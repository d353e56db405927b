"""The registry's board cache: bounded, switchable off, and deaf to reads older than a
forget (the read path's other caches are compared on and off in
tests/integration/leaderboards/test_caches.py)."""

from __future__ import annotations

from domain.leaderboards.caches import BoardConfigs
from domain.leaderboards.models import Board, BoardConfig


def test_names_without_a_board_do_not_grow_the_cache_past_its_bound() -> None:
    configs = BoardConfigs(ttl_s=60, size=2)
    for name in ("nope1", "nope2", "nope3"):
        configs.keep(name, None, configs.epoch)
    assert configs.get("nope1") is None
    assert configs.get("nope2") == (None,) and configs.get("nope3") == (None,)


def test_a_zero_ttl_keeps_nothing() -> None:
    configs = BoardConfigs(ttl_s=0)
    configs.keep("global", Board(BoardConfig("global"), gen=1, version=1), configs.epoch)
    assert configs.get("global") is None


def test_a_read_started_before_a_forget_is_not_kept() -> None:
    configs = BoardConfigs(ttl_s=60)
    board = Board(BoardConfig("global"), gen=1, version=1)
    started = configs.epoch
    configs.forget("global")
    configs.keep("global", board, started)
    assert configs.get("global") is None
    configs.keep("global", board, configs.epoch)
    assert configs.get("global") == (board,)
