from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain.errors import BadRequest, Conflict, MatchNotFound
from domain.matchmaking.ratings import DEFAULT_RATING
from domain.matchmaking.service import MatchmakingService
from tests.integration.matchmaking.conftest import RecordingBoards, RecordingNotifier


async def play(
    service: MatchmakingService,
    worker: Any,
    notifier: RecordingNotifier,
    queue: str,
    *players: str,
) -> dict[str, Any]:
    for player in players:
        await service.join(queue, player)
    await worker.run_once()
    return notifier.found_for(players[0])[-1]


async def test_a_result_rates_every_player_once(
    service: MatchmakingService,
    make_worker: Any,
    notifier: RecordingNotifier,
    boards: RecordingBoards,
) -> None:
    assert await service.rating_of("p1") == DEFAULT_RATING
    event = await play(service, make_worker(), notifier, "open", "p1", "p2")
    winner = event["teams"][0][0]
    loser = event["teams"][1][0]
    ratings = await service.report_result(event["match_id"], [1, 2])
    assert ratings[winner].mu > DEFAULT_RATING.mu > ratings[loser].mu
    assert await service.rating_of(winner) == ratings[winner]
    assert await service.players_in_match([winner, loser]) == set()
    assert sorted(boards.scores) == sorted(
        ("ranked", p, ratings[p].ordinal()) for p in (winner, loser)
    )
    # A repeat returns the same result and changes no rating; other ranks conflict.
    assert await service.report_result(event["match_id"], [1, 2]) == ratings
    assert await service.rating_of(winner) == ratings[winner]
    with pytest.raises(Conflict):
        await service.report_result(event["match_id"], [2, 1])


async def test_concurrent_reports_of_one_match_rate_it_once(
    service: MatchmakingService,
    make_worker: Any,
    notifier: RecordingNotifier,
) -> None:
    event = await play(service, make_worker(), notifier, "open", "p1", "p2")
    results = await asyncio.gather(
        *(service.report_result(event["match_id"], [1, 2]) for _ in range(5))
    )
    assert all(r == results[0] for r in results)
    winner = event["teams"][0][0]
    assert await service.rating_of(winner) == results[0][winner]


async def test_results_of_matches_sharing_a_player_both_count(
    service: MatchmakingService,
    make_worker: Any,
    notifier: RecordingNotifier,
) -> None:
    worker = make_worker()
    first = await play(service, worker, notifier, "open", "p1", "p2")
    second = await play(service, worker, notifier, "open", "p1", "p3")
    ranks_first = [1, 2] if first["teams"][0] == ["p1"] else [2, 1]
    ranks_second = [1, 2] if second["teams"][0] == ["p1"] else [2, 1]
    await asyncio.gather(
        service.report_result(first["match_id"], ranks_first),
        service.report_result(second["match_id"], ranks_second),
    )
    once = await service.rating_of("p2")
    twice = await service.rating_of("p1")
    assert twice.mu - DEFAULT_RATING.mu > DEFAULT_RATING.mu - once.mu > 0
    assert twice.sigma < (await service.rating_of("p3")).sigma


@pytest.mark.parametrize("ranks", [[1], [1, 2, 3], [0, 1], [1, "2"], "1,2", [True, 2], []])
async def test_bad_ranks_are_a_bad_request(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier, ranks: object
) -> None:
    event = await play(service, make_worker(), notifier, "open", "p1", "p2")
    with pytest.raises(BadRequest):
        await service.report_result(event["match_id"], ranks)
    assert await service.rating_of("p1") == DEFAULT_RATING
    assert await service.players_in_match(["p1", "p2"]) == {"p1", "p2"}


async def test_an_unknown_match_is_not_found(service: MatchmakingService) -> None:
    for match_id in ("nope", "0123456789.0000000000000000"):
        with pytest.raises(MatchNotFound):
            await service.report_result(match_id, [1, 2])
    with pytest.raises(BadRequest):
        await service.report_result("not an id", [1, 2])


async def test_queue_stats_count_waits_matches_and_fairness(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier, clock: Any
) -> None:
    worker = make_worker()
    await service.join("open", "p1")
    clock.advance(2.0)
    await service.join("open", "p2")
    await service.join("open", "p3")
    await worker.run_once()
    ticket = await service.join("open", "p4")
    await service.cancel("p4", ticket)
    await service.join("open", "p5")
    clock.advance(1.5)
    stats = {s["queue"]: s for s in await service.list_queue_stats()}
    assert stats["open"]["matches"] == 1
    assert stats["open"]["waiting"] == 2  # p3 or p2, and p5
    assert stats["open"]["cancelled"] == 1
    assert stats["open"]["oldest_wait_s"] == pytest.approx(1.5, abs=1e-3)
    assert stats["open"]["wait_p50_s"] == pytest.approx(0.0, abs=1e-3)
    assert stats["open"]["wait_p95_s"] == pytest.approx(2.0, abs=1e-3)
    assert stats["open"]["mean_win_gap"] == pytest.approx(0.0)
    assert stats["duel"]["matches"] == 0 and stats["duel"]["wait_p50_s"] is None
