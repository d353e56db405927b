"""Writes: idempotent retries, replica confirmation, metadata and update times."""

from __future__ import annotations

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.errors import BadRequest, Unavailable
from domain.leaderboards.models import BoardConfig, Operator, Order
from domain.leaderboards.service import LeaderboardService
from domain.storage.shard_calls import ShardCaller, WritePolicy
from tests.integration.leaderboards.helpers import snapshot


async def test_a_retried_submit_applies_once(service: LeaderboardService) -> None:
    await service.create_board(BoardConfig("coins", operator="incr"))
    await service.submit("coins", "rival", 15)
    first = await service.submit("coins", "a", 10, request_id="req-1")
    again = await service.submit("coins", "a", 10, request_id="req-1")
    assert first == again
    assert (await service.rank("coins", "a")).score == 10
    other = await service.submit("coins", "a", 10, request_id="req-2")
    assert (other.score, other.rank, other.previous_rank) == (20, 1, 2)
    # The same request id of another player is another request.
    assert (await service.submit("coins", "b", 1, request_id="req-1")).score == 1


async def test_a_write_no_replica_confirms_is_unavailable_and_its_retry_applies_once(
    service: LeaderboardService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    await service.create_board(BoardConfig("coins", operator="incr"))
    # Each shard has one replica: waiting for two times out.
    impatient = LeaderboardService(
        ShardCaller(valkey), clock, WritePolicy(wait_replicas=2, wait_timeout_ms=50)
    )
    with pytest.raises(Unavailable):
        await impatient.submit("coins", "a", 7, request_id="r1")
    retried = await service.submit("coins", "a", 7, request_id="r1")
    assert (retried.score, retried.rank, retried.previous_rank) == (7, 1, None)
    assert (await service.rank("coins", "a")).score == 7


async def test_waiting_for_replicas_can_be_turned_off(
    service: LeaderboardService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    fast = LeaderboardService(
        ShardCaller(valkey), clock, WritePolicy(wait_replicas=0, wait_timeout_ms=0)
    )
    assert (await fast.submit("global", "a", 3)).rank == 1


async def test_metadata_follows_the_accepted_writes(service: LeaderboardService) -> None:
    first = await service.submit("global", "a", 10, {"skin": "red"})
    assert first.changed
    entry = await service.rank("global", "a")
    assert entry.metadata == {"skin": "red"}
    # `best` that is not better changes nothing, metadata included.
    kept = await service.submit("global", "a", 5, {"skin": "blue"})
    assert not kept.changed
    assert (await service.rank("global", "a")).metadata == {"skin": "red"}
    # A better score without metadata keeps the metadata it had.
    await service.submit("global", "a", 12)
    later = await service.rank("global", "a")
    assert (later.score, later.metadata) == (12, {"skin": "red"})
    assert later.updated_at >= entry.updated_at
    await service.submit("global", "a", 13, {})
    assert (await service.rank("global", "a")).metadata == {}


async def test_a_set_to_the_same_score_updates_time_and_metadata(
    service: LeaderboardService,
) -> None:
    await service.create_board(BoardConfig("sets", operator="set"))
    await service.submit("sets", "a", 4)
    before = await service.rank("sets", "a")
    result = await service.submit("sets", "a", 4, {"lap": 2})
    after = await service.rank("sets", "a")
    assert (result.changed, result.rank, result.previous_rank) == (True, 1, 1)
    assert after.metadata == {"lap": 2}
    assert after.updated_at > before.updated_at


async def test_an_increment_beyond_2_pow_53_changes_nothing(service: LeaderboardService) -> None:
    await service.create_board(BoardConfig("big", operator="incr"))
    await service.submit("big", "a", 2**53 - 2)
    with pytest.raises(BadRequest):
        await service.submit("big", "a", 4)
    assert (await service.rank("big", "a")).score == 2**53 - 2


# Doubles past 2^53 are 2 apart: 2^53 + 1 rounds back to 2^53, so a sum that lands on
# ±2^53 after rounding may have passed it.
@pytest.mark.parametrize(
    ("order", "operator", "first", "step"),
    [
        ("desc", "incr", 2**53 - 1, 2),  # 2^53 + 1 would round down to 2^53
        ("desc", "incr", 2**53, 1),  # would change nothing
        ("asc", "incr", -(2**53), -1),
        ("desc", "decr", 2**53, 1),  # the entry holds -2^53
        ("asc", "decr", 2**53, 1),
    ],
)
async def test_an_increment_that_rounds_onto_2_pow_53_from_past_it_is_refused(
    service: LeaderboardService,
    admin_valkey: ValkeyCluster,
    order: Order,
    operator: Operator,
    first: float,
    step: float,
) -> None:
    await service.create_board(BoardConfig("big", order=order, operator=operator))
    kept = (await service.submit("big", "a", first)).score
    before = await snapshot(admin_valkey)
    with pytest.raises(BadRequest):
        await service.submit("big", "a", step)
    assert await snapshot(admin_valkey) == before
    assert (await service.rank("big", "a")).score == kept


async def test_an_increment_may_land_exactly_on_2_pow_53(service: LeaderboardService) -> None:
    await service.create_board(BoardConfig("big", operator="incr"))
    await service.submit("big", "a", 2**53 - 1)
    assert (await service.submit("big", "a", 1)).score == 2**53
    assert (await service.submit("big", "a", -1)).score == 2**53 - 1
    await service.submit("big", "b", -(2**53) + 3)
    assert (await service.submit("big", "b", -3)).score == -(2**53)


async def test_a_retried_submit_of_a_player_on_the_board_answers_the_true_previous_rank(
    service: LeaderboardService,
) -> None:
    await service.create_board(BoardConfig("solo"))
    await service.submit("solo", "a", 10)
    first = await service.submit("solo", "a", 20, request_id="req-1")
    again = await service.submit("solo", "a", 20, request_id="req-1")
    assert (first.rank, first.previous_rank) == (1, 1)
    assert (again.rank, again.previous_rank) == (1, 1)


async def test_a_retry_after_later_writes_still_answers_ranks_without_counting_the_player(
    service: LeaderboardService,
) -> None:
    await service.create_board(BoardConfig("later", sub_boards=1))
    await service.submit("later", "rival", 15)
    await service.submit("later", "a", 10)
    first = await service.submit("later", "a", 12, request_id="req-1")
    await service.submit("later", "a", 30)
    again = await service.submit("later", "a", 12, request_id="req-1")
    assert (first.rank, first.previous_rank) == (2, 2)
    # Ranks as of now, with the player's own newer entry not counted against itself.
    assert (again.rank, again.previous_rank) == (2, 2)
