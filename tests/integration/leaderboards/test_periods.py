"""Periods roll over with the (injected) clock; earlier periods stay readable, then expire."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.errors import BadRequest, PlayerNotFound
from domain.leaderboards.keys import sub_boards_of
from domain.leaderboards.models import BoardConfig, Reset
from domain.leaderboards.service import LeaderboardService
from tests.cluster_helpers import eventually


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


async def _ids(service: LeaderboardService, board: str, period: str | None = None) -> list[str]:
    page = await service.top(board, limit=100, period=period)
    return [entry.player_id for entry in page.entries]


async def test_a_weekly_board_starts_empty_on_monday(
    service: LeaderboardService, clock: FixedClock, admin_valkey: ValkeyCluster
) -> None:
    clock.set(at(2031, 3, 9, 23, 59, 30))  # Sunday of ISO week 10
    await service.submit("weekly", "a", 10)
    await service.submit("weekly", "b", 20)
    assert await service.live_period("weekly") == "2031-W10"

    clock.set(at(2031, 3, 10, 0, 0, 1))
    assert await service.count("weekly") == 0
    assert await _ids(service, "weekly") == []
    with pytest.raises(PlayerNotFound):
        await service.rank("weekly", "a")
    result = await service.submit("weekly", "a", 5)
    assert (result.rank, result.previous_rank) == (1, None)

    assert await _ids(service, "weekly", "2031-W10") == ["b", "a"]
    view = await service.inspect("weekly", limit=1, period="2031-W10")
    assert (view.period, view.count, [e.player_id for e in view.page.entries]) == (
        "2031-W10",
        2,
        ["b"],
    )
    rest = await service.top("weekly", limit=10, cursor=view.page.next_cursor, period="2031-W10")
    assert [e.player_id for e in rest.entries] == ["a"]

    # The old week's keys expire a retention after its end (time of the injected clock).
    board = await service.get_board("weekly")
    ttls = [
        await admin_valkey.ttl(sub.zset(board.gen, "2031-W10"))
        for sub in sub_boards_of("weekly", board.config.sub_boards)
    ]
    retention = board.config.retention_s
    assert all(retention <= ttl <= retention + 31 for ttl in ttls if ttl != -2)
    assert any(ttl != -2 for ttl in ttls)


async def test_a_cursor_from_before_a_rollover_is_refused_unless_its_period_is_named(
    service: LeaderboardService, clock: FixedClock
) -> None:
    clock.set(at(2031, 3, 9, 23, 59, 30))  # Sunday of ISO week 10
    for i, player in enumerate(["a", "b", "c"]):
        await service.submit("weekly", player, i)
    first = await service.top("weekly", limit=2)
    assert first.next_cursor is not None

    clock.set(at(2031, 3, 10, 0, 0, 1))
    await service.submit("weekly", "d", 1)
    # Without a period a cursor pages the live period only; this one is of last week.
    with pytest.raises(BadRequest, match="rolled over"):
        await service.top("weekly", limit=2, cursor=first.next_cursor)
    with pytest.raises(BadRequest, match="rolled over"):
        await service.inspect("weekly", limit=2, cursor=first.next_cursor)
    with pytest.raises(BadRequest):
        await service.top("weekly", limit=2, cursor=first.next_cursor, period="2031-W11")
    rest = await service.top("weekly", limit=2, cursor=first.next_cursor, period="2031-W10")
    assert [(e.rank, e.player_id) for e in rest.entries] == [(3, "a")]


async def test_a_cursor_from_before_a_reset_is_refused_unless_its_period_is_named(
    service: LeaderboardService,
) -> None:
    for i, player in enumerate(["a", "b", "c"]):
        await service.submit("global", player, i)
    first = await service.top("global", limit=2)
    assert first.next_cursor is not None
    assert await service.reset("global") == "all.1"
    await service.submit("global", "d", 1)
    await service.submit("global", "e", 2)

    with pytest.raises(BadRequest, match="start again without a cursor"):
        await service.top("global", limit=2, cursor=first.next_cursor)
    with pytest.raises(BadRequest, match="start again without a cursor"):
        await service.inspect("global", limit=2, cursor=first.next_cursor)
    archived = await service.inspect("global", limit=2, cursor=first.next_cursor, period="all")
    assert (archived.period, archived.count) == ("all", 3)
    assert [(e.rank, e.player_id) for e in archived.page.entries] == [(3, "a")]
    # A cursor issued in the new live period pages it as before.
    live = await service.top("global", limit=1)
    more = await service.top("global", limit=1, cursor=live.next_cursor)
    assert [(e.rank, e.player_id) for e in live.entries + more.entries] == [(1, "e"), (2, "d")]


@pytest.mark.parametrize(
    ("reset", "before", "after", "old", "new"),
    [
        ("daily", at(2031, 3, 5, 23, 59), at(2031, 3, 6, 0, 1), "2031-03-05", "2031-03-06"),
        ("monthly", at(2031, 3, 31, 23, 59), at(2031, 4, 1), "2031-03", "2031-04"),
    ],
)
async def test_daily_and_monthly_boards_roll_over(
    service: LeaderboardService,
    clock: FixedClock,
    reset: Reset,
    before: float,
    after: float,
    old: str,
    new: str,
) -> None:
    await service.create_board(BoardConfig("rolling", reset=reset))
    clock.set(before)
    await service.submit("rolling", "a", 1)
    clock.set(after)
    await service.submit("rolling", "b", 1)
    assert await service.live_period("rolling") == new
    assert await _ids(service, "rolling") == ["b"]
    assert await _ids(service, "rolling", old) == ["a"]


async def test_a_finished_period_expires_after_its_retention(
    service: LeaderboardService, clock: FixedClock
) -> None:
    await service.create_board(BoardConfig("short", reset="daily", retention_s=1))
    clock.set(at(2031, 3, 5, 23, 59, 59))
    await service.submit("short", "a", 1)
    clock.set(at(2031, 3, 6, 0, 0, 1))
    assert await _ids(service, "short", "2031-03-05") == ["a"]

    async def expired() -> bool:
        return await _ids(service, "short", "2031-03-05") == []

    await eventually(expired, timeout_s=6, interval_s=0.2)


async def test_a_period_of_another_kind_is_a_bad_request(service: LeaderboardService) -> None:
    for period in ("2031-W10", "all", "x", "2031-03-05.0"):
        with pytest.raises(BadRequest):
            await service.top("weekly" if period == "all" else "global", period=period)


async def test_export_and_erasure_find_the_resets_of_an_earlier_period(
    service: LeaderboardService, clock: FixedClock
) -> None:
    # Only the latest reset is recorded on the board: an earlier period's are probed.
    await service.create_board(BoardConfig("days", reset="daily", retention_s=7 * 86400))
    clock.set(at(2031, 3, 5, 12))
    await service.submit("days", "a", 1)
    await service.reset("days")
    await service.submit("days", "a", 2)
    clock.set(at(2031, 3, 6, 12))
    await service.submit("days", "a", 3)
    await service.reset("days")
    await service.submit("days", "a", 4)
    found = {(period, entry.score) for _, period, entry in await service.entries_of_player("a")}
    assert found == {("2031-03-06.1", 4), ("2031-03-06", 3), ("2031-03-05.1", 2), ("2031-03-05", 1)}
    assert await service.forget_player("a") == 4
    assert await service.entries_of_player("a") == []
