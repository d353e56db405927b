"""The outbox of period ends: one claim per period end however many workers look, a
reset's end claimed in the reset itself, jobs leased to one worker at a time."""

from __future__ import annotations

from domain.clock import FixedClock
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.period_ends import PeriodEndJob
from domain.leaderboards.service import LeaderboardService
from tests.integration.leaderboards.conftest import START


async def test_a_period_end_is_claimed_once_by_many_workers(
    service: LeaderboardService, other_gateway: LeaderboardService, clock: FixedClock
) -> None:
    await service.create_board(BoardConfig(name="cup", end_at=int(START) + 10))
    clock.advance(11)
    boards = await service.boards()
    claims = [
        await service.period_ends.claim_ended(boards, clock.now()),
        await other_gateway.period_ends.claim_ended(boards, clock.now()),
        await other_gateway.period_ends.claim_ended(boards, clock.now()),
    ]
    assert claims == [1, 0, 0]
    jobs = await service.period_ends.pending()
    assert [(j.board, j.period, j.ended_at, j.reason) for j in jobs] == [
        ("cup", "all", START + 10, "end_at")
    ]


async def test_a_reset_after_the_window_closed_is_the_only_end_of_that_label(
    service: LeaderboardService, clock: FixedClock
) -> None:
    await service.create_board(BoardConfig(name="cup", end_at=int(START) + 10))
    clock.advance(20)
    await service.reset("cup")  # before any worker looked: it ends `all`
    claimed = await service.period_ends.claim_ended(await service.boards(), clock.now())
    assert claimed == 0
    jobs = await service.period_ends.pending()
    assert [(j.period, j.reason) for j in jobs] == [("all", "reset")]


async def test_the_end_of_a_period_with_resets_is_its_last_label(
    service: LeaderboardService, clock: FixedClock
) -> None:
    await service.create_board(BoardConfig(name="cup", end_at=int(START) + 10))
    await service.create_board(BoardConfig(name="day", reset="daily"))
    for name in ("cup", "cup", "day"):
        await service.reset(name)
    clock.advance(24 * 3600)
    # A reset in the new day before any worker looked: the day that ended is still `.1`.
    await service.reset("day")
    assert await service.period_ends.claim_ended(await service.boards(), clock.now()) == 2
    jobs = sorted((j.board, j.period, j.reason) for j in await service.period_ends.pending())
    assert jobs == [
        ("cup", "all", "reset"),
        ("cup", "all.1", "reset"),
        ("cup", "all.2", "end_at"),
        ("day", "2031-03-05", "reset"),
        ("day", "2031-03-05.1", "rollover"),
        ("day", "2031-03-06", "reset"),
    ]


async def test_a_reset_claims_the_archived_label_in_the_same_call(
    service: LeaderboardService, clock: FixedClock
) -> None:
    await service.create_board(
        BoardConfig(name="arena", on_period_end="https://x.test/e", on_period_end_top=5)
    )
    await service.reset("arena")
    await service.reset("arena")
    jobs = sorted(await service.period_ends.pending(), key=lambda job: job.period)
    assert [(j.period, j.reason, j.url, j.top, j.ended_at) for j in jobs] == [
        ("all", "reset", "https://x.test/e", 5, START),
        ("all.1", "reset", "https://x.test/e", 5, START),
    ]


async def _job_leased_to_w1(service: LeaderboardService, clock: FixedClock) -> PeriodEndJob:
    """The job of a reset of a new board, taken by worker w1 for 30 s."""
    await service.create_board(BoardConfig(name="arena"))
    await service.reset("arena")
    job = await service.period_ends.take("w1", clock.now(), 30)
    assert job is not None
    return job


async def test_a_job_is_leased_to_one_worker_until_its_lease_runs_out(
    service: LeaderboardService, clock: FixedClock
) -> None:
    job = await _job_leased_to_w1(service, clock)
    outbox = service.period_ends
    assert job.lease == "w1"
    assert await outbox.take("w2", clock.now() + 29, 30) is None
    taken = await outbox.take("w2", clock.now() + 30, 30)
    assert taken is not None and taken.id == job.id
    # w1 lost its lease: it can neither record progress nor remove the job.
    assert await outbox.save(job, "w1") is False
    assert await outbox.finish(job, "w1") is False
    assert await outbox.finish(taken, "w2") is True
    assert await outbox.pending() == []


async def test_a_job_waiting_for_its_retry_is_not_taken_before_it_is_due(
    service: LeaderboardService, clock: FixedClock
) -> None:
    job = await _job_leased_to_w1(service, clock)
    outbox = service.period_ends
    job.next_at, job.lease, job.lease_until = clock.now() + 5, "", 0.0
    assert await outbox.save(job, "w1") is True
    assert await outbox.take("w2", clock.now() + 4.9, 30) is None
    assert await outbox.take("w2", clock.now() + 5, 30) is not None
