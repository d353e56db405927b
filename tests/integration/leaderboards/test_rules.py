"""Score rules checked inside the writing function: every rule at its edges, on a board of
one sub-board and one of six, and a refused write changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.errors import BadRequest, Conflict, DomainError, Forbidden, RateLimited
from domain.leaderboards import keys
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from domain.storage.shard_calls import ShardCaller, WritePolicy
from tests.integration.leaderboards.conftest import START
from tests.integration.leaderboards.helpers import players_in_distinct_sub_boards, snapshot

SHARDS = pytest.mark.parametrize("sub_boards", [1, 6])


Refused = Callable[[type[DomainError], Callable[[], Any]], Awaitable[DomainError]]


async def refused_and_unchanged(
    valkey: ValkeyCluster,
    error: type[DomainError],
    write: Callable[[], Any],
) -> DomainError:
    """Runs `write`, which must fail with `error` and leave every key as it was."""
    before = await snapshot(valkey)
    with pytest.raises(error) as caught:
        await write()
    assert await snapshot(valkey) == before
    return caught.value


@pytest.fixture
def refused(admin_valkey: ValkeyCluster) -> Refused:
    """`refused_and_unchanged` on a client that may list every key."""
    return partial(refused_and_unchanged, admin_valkey)


@SHARDS
async def test_a_score_outside_min_and_max_is_a_bad_request(
    service: LeaderboardService, sub_boards: int, refused: Refused
) -> None:
    config = BoardConfig("ranged", min_score=-10, max_score=100, sub_boards=sub_boards)
    await service.create_board(config)
    assert (await service.submit("ranged", "a", -10)).score == -10
    assert (await service.submit("ranged", "a", 100)).score == 100
    await refused(BadRequest, lambda: service.submit("ranged", "a", 100.5))
    await refused(BadRequest, lambda: service.submit("ranged", "b", -10.5))
    # Trusted writes keep to the range too.
    await refused(BadRequest, lambda: service.submit("ranged", "b", 101, trusted=True))


@SHARDS
async def test_an_increment_that_would_leave_the_range_is_a_bad_request(
    service: LeaderboardService, sub_boards: int, refused: Refused
) -> None:
    config = BoardConfig("coins", operator="incr", max_score=10, sub_boards=sub_boards)
    await service.create_board(config)
    await service.submit("coins", "a", 7)
    assert (await service.submit("coins", "a", 3)).score == 10
    await refused(BadRequest, lambda: service.submit("coins", "a", 1))
    assert (await service.rank("coins", "a")).score == 10


@SHARDS
async def test_a_step_larger_than_max_step_is_a_bad_request(
    service: LeaderboardService, sub_boards: int, refused: Refused
) -> None:
    await service.create_board(
        BoardConfig("steps", "desc", "decr", sub_boards=sub_boards, max_step=5)
    )
    for step, total in ((5, -5), (-5, 0)):  # a step's size counts, either way
        assert (await service.submit("steps", "a", step)).score == total
    for step in (5.5, -6):
        await refused(BadRequest, partial(service.submit, "steps", "a", step))


@SHARDS
async def test_a_board_closed_to_clients_takes_only_trusted_writes(
    service: LeaderboardService, sub_boards: int, refused: Refused
) -> None:
    await service.create_board(BoardConfig("servers", client_writes=False, sub_boards=sub_boards))
    await refused(Forbidden, lambda: service.submit("servers", "a", 1))
    assert (await service.submit("servers", "a", 1, trusted=True)).rank == 1


@SHARDS
async def test_writes_are_taken_from_start_at_until_just_before_end_at(
    service: LeaderboardService, clock: FixedClock, sub_boards: int, refused: Refused
) -> None:
    start, end = int(START) + 100, int(START) + 200
    config = BoardConfig("cup", start_at=start, end_at=end, sub_boards=sub_boards)
    await service.create_board(config)
    clock.set(start - 0.001)
    await refused(Forbidden, lambda: service.submit("cup", "a", 1))
    clock.set(start)
    await service.submit("cup", "a", 1)
    clock.set(end - 0.001)
    await service.submit("cup", "b", 2)
    clock.set(end)
    await refused(Forbidden, lambda: service.submit("cup", "a", 5))
    # The window holds for trusted servers too; the results stay readable.
    await refused(Forbidden, lambda: service.submit("cup", "c", 5, trusted=True))
    top = await service.top("cup")
    assert [(e.player_id, e.rank) for e in top.entries] == [("b", 1), ("a", 2)]


@SHARDS
async def test_attempts_are_counted_per_player_and_a_retry_is_not_one(
    service: LeaderboardService, sub_boards: int, refused: Refused
) -> None:
    config = BoardConfig("tries", max_attempts=3, sub_boards=sub_boards)
    await service.create_board(config)
    first = await service.submit("tries", "a", 10, request_id="r1")
    assert await service.submit("tries", "a", 10, request_id="r1") == first
    await service.submit("tries", "a", 5)  # not better, still an attempt
    await service.submit("tries", "a", 20)
    await refused(Forbidden, lambda: service.submit("tries", "a", 30))
    # A retry of an accepted attempt still answers after the attempts ran out.
    assert (await service.submit("tries", "a", 10, request_id="r1")).score == 10
    assert (await service.submit("tries", "b", 1)).rank == 2
    assert (await service.rank("tries", "a")).score == 20


async def test_attempts_start_again_in_a_new_period(
    service: LeaderboardService, clock: FixedClock
) -> None:
    await service.create_board(BoardConfig("daily", reset="daily", max_attempts=1))
    await service.submit("daily", "a", 1)
    with pytest.raises(Forbidden):
        await service.submit("daily", "a", 2)
    clock.advance(24 * 3600)
    assert (await service.submit("daily", "a", 2)).previous_rank is None
    await service.reset("daily")
    assert (await service.submit("daily", "a", 3)).previous_rank is None


@SHARDS
async def test_more_than_writes_per_minute_by_one_player_is_rate_limited(
    service: LeaderboardService, clock: FixedClock, sub_boards: int, refused: Refused
) -> None:
    config = BoardConfig("paced", operator="incr", writes_per_minute=2, sub_boards=sub_boards)
    await service.create_board(config)
    await service.submit("paced", "a", 1)
    clock.set(START + 30)
    await service.submit("paced", "a", 1)
    clock.set(START + 59.999)
    await refused(RateLimited, lambda: service.submit("paced", "a", 1))
    # Another player, and a trusted server, are not held back by a's writes.
    await service.submit("paced", "b", 1)
    await service.submit("paced", "a", 1, trusted=True)
    clock.set(START + 60)  # a's first write is a minute old: it no longer counts
    assert (await service.submit("paced", "a", 1)).score == 4
    await refused(RateLimited, lambda: service.submit("paced", "a", 1))


@SHARDS
async def test_a_board_with_join_required_takes_writes_only_from_players_who_joined(
    service: LeaderboardService, sub_boards: int, refused: Refused
) -> None:
    await service.create_board(BoardConfig("club", join_required=True, sub_boards=sub_boards))
    await refused(Forbidden, lambda: service.submit("club", "a", 1))
    await refused(Forbidden, lambda: service.submit("club", "a", 1, trusted=True))
    assert (await service.join("club", "a")).new
    again = await service.join("club", "a")
    assert (again.new, again.players) == (False, 1)
    assert (await service.submit("club", "a", 1)).rank == 1


@SHARDS
async def test_max_players_holds_board_wide_across_gateways(
    service: LeaderboardService,
    other_gateway: LeaderboardService,
    sub_boards: int,
    refused: Refused,
) -> None:
    config = BoardConfig("cap", join_required=True, max_players=2, sub_boards=sub_boards)
    await service.create_board(config)
    a, b, c = players_in_distinct_sub_boards(3, sub_boards)
    await service.join("cap", a)
    assert (await other_gateway.join("cap", b)).players == 2
    await refused(Conflict, lambda: service.join("cap", c))
    await refused(Conflict, lambda: other_gateway.join("cap", c))
    # Joining again when full is fine for a player who holds a seat.
    assert (await other_gateway.join("cap", a)).players == 2


@SHARDS
async def test_without_join_required_the_first_write_takes_a_seat(
    service: LeaderboardService,
    other_gateway: LeaderboardService,
    sub_boards: int,
    refused: Refused,
) -> None:
    await service.create_board(BoardConfig("cap", max_players=2, sub_boards=sub_boards))
    a, b, c = players_in_distinct_sub_boards(3, sub_boards)
    await service.submit("cap", a, 1)
    await other_gateway.submit("cap", b, 2)
    await refused(Conflict, lambda: service.submit("cap", c, 3))
    assert (await other_gateway.submit("cap", a, 5)).rank == 1


async def test_concurrent_joins_never_pass_max_players(service: LeaderboardService) -> None:
    await service.create_board(BoardConfig("rush", join_required=True, max_players=5))
    players = [f"p{i}" for i in range(20)]
    outcomes = await asyncio.gather(
        *(service.join("rush", p) for p in players), return_exceptions=True
    )
    joined = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(joined) == 5
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, BaseException))
    listing = {item.board.name: item for item in await service.boards_for("p0")}
    assert listing["rush"].players == 5


async def test_joining_is_refused_after_end_at_and_needless_on_open_boards(
    service: LeaderboardService, clock: FixedClock
) -> None:
    await service.create_board(BoardConfig("cup", join_required=True, end_at=int(START) + 10))
    await service.join("cup", "early")
    clock.advance(10)
    with pytest.raises(Forbidden):
        await service.join("cup", "late")
    with pytest.raises(BadRequest):
        await service.join("global", "a")


async def test_refused_writes_are_reported_by_board_and_reason(
    valkey: ValkeyCluster, clock: FixedClock
) -> None:
    seen: list[tuple[str, str]] = []
    service = LeaderboardService(
        ShardCaller(valkey),
        clock,
        WritePolicy(1, 2000),
        default_boards=(),
        on_refused=lambda *r: seen.append(r),
    )
    await service.ensure_ready()
    await service.create_board(BoardConfig("cup", max_score=10, max_players=1))
    await service.submit("cup", "a", 1)
    for player, score in (("a", 11), ("b", 1)):
        with pytest.raises(DomainError):
            await service.submit("cup", player, score)
    assert seen == [("cup", "above_max"), ("cup", "full")]


async def test_the_board_list_shows_each_board_to_the_player(
    service: LeaderboardService, clock: FixedClock
) -> None:
    end = int(START) + 3600
    await service.create_board(
        BoardConfig("cup", reset="daily", join_required=True, max_players=8, end_at=end)
    )
    await service.join("cup", "a")
    await service.submit("global", "a", 5)
    await service.submit("global", "b", 6)
    mine = {item.board.name: item.to_dict() for item in await service.boards_for("a")}
    assert mine["cup"] == {
        "name": "cup",
        "order": "desc",
        "operator": "best",
        "reset": "daily",
        "period": "2031-03-05",
        "period_ends_at": START + 12 * 3600,
        "start_at": None,
        "end_at": end,
        "players": 1,
        "max_players": 8,
        "joined": True,
        "join_required": True,
    }
    assert (mine["global"]["players"], mine["global"]["joined"]) == (2, False)
    theirs = {item.board.name: item for item in await service.boards_for("b")}
    assert not theirs["cup"].joined


async def test_deleting_a_board_drops_its_seats_and_tallies_and_a_reset_archives_them(
    service: LeaderboardService, valkey: ValkeyCluster, admin_valkey: ValkeyCluster
) -> None:
    # Spread over six sub-boards: the tallies live in the player's own sub-board.
    await service.create_board(BoardConfig("cup", join_required=True, max_attempts=2, sub_boards=6))
    await service.join("cup", "a")
    await service.submit("cup", "a", 1)
    board = await service.get_board("cup")
    sub = keys.sub_boards_of("cup", board.config.sub_boards)[keys.sub_board_of("a", 6)]
    seats, tally = keys.seats("cup", board.gen, "all"), sub.tally(board.gen, "all")
    assert await valkey.hgetall(tally) == {b"j:a": b"1", b"a:a": b"1"}
    await service.reset("cup")
    retention = board.config.retention_s
    assert (
        0 < await admin_valkey.ttl(seats) <= retention
        and 0 < await admin_valkey.ttl(tally) <= retention
    )
    await service.join("cup", "a")
    live_seats = keys.seats("cup", board.gen, "all.1")
    await service.delete_board("cup")
    assert not await valkey.exists(live_seats, sub.tally(board.gen, "all.1"))


async def test_a_seat_whose_copy_was_lost_is_repaired_by_joining_again(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    await service.create_board(BoardConfig("club", join_required=True, max_players=1, sub_boards=6))
    await service.join("club", "a")
    board = await service.get_board("club")
    sub = keys.sub_boards_of("club", 6)[keys.sub_board_of("a", 6)]
    # As if the gateway died between taking the seat and copying it to the sub-board.
    await valkey.hdel(sub.tally(board.gen, "all"), "j:a")
    with pytest.raises(Forbidden):
        await service.submit("club", "a", 1)
    assert not (await service.join("club", "a")).new  # the seat is still a's: not full
    assert (await service.submit("club", "a", 1)).rank == 1


@SHARDS
async def test_removing_a_player_frees_their_seat_and_keeps_their_attempts(
    service: LeaderboardService, sub_boards: int, refused: Refused
) -> None:
    config = BoardConfig("cup", max_players=2, max_attempts=2, sub_boards=sub_boards)
    await service.create_board(config)
    cheater, b, c = players_in_distinct_sub_boards(3, sub_boards)
    await service.submit("cup", cheater, 1)
    await service.submit("cup", b, 1)
    await refused(Conflict, lambda: service.submit("cup", c, 1))
    await service.remove_player("cup", cheater)
    assert (await service.submit("cup", c, 1)).score == 1  # the freed seat is c's now
    await refused(Conflict, lambda: service.submit("cup", cheater, 1))
    await service.remove_player("cup", c)
    # Back on the board, the cheater has the one attempt left that removal did not reset.
    assert (await service.submit("cup", cheater, 5)).score == 5
    await refused(Forbidden, lambda: service.submit("cup", cheater, 6))


@SHARDS
async def test_removing_a_joined_player_without_a_score_frees_the_seat(
    service: LeaderboardService, valkey: ValkeyCluster, sub_boards: int, refused: Refused
) -> None:
    config = BoardConfig("club", join_required=True, max_players=1, sub_boards=sub_boards)
    await service.create_board(config)
    a, b = players_in_distinct_sub_boards(2, sub_boards)
    await service.join("club", a)
    await service.remove_player("club", a)
    await refused(Forbidden, lambda: service.submit("club", a, 1))  # must join again
    assert (await service.join("club", b)).players == 1
    await refused(Conflict, lambda: service.join("club", a))
    # A removal cut short after the seat's mark went still frees the seat when retried.
    board = await service.get_board("club")
    sub = keys.sub_boards_of("club", sub_boards)[keys.sub_board_of(b, sub_boards)]
    await valkey.hdel(sub.tally(board.gen, "all"), f"j:{b}")
    await service.remove_player("club", b)
    assert (await service.join("club", a)).players == 1
