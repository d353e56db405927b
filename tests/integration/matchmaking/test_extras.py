"""Queue extras with the real worker: match_on, free-for-all fill, allocators, backfill."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.errors import BadRequest, Conflict, MatchNotFound
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import QueueConfig
from domain.matchmaking.partition_store import PartitionStore
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.worker import MatchmakingWorker
from gameserver.workers.allocator import HttpAllocator
from tests.allocator_stub import Allocator
from tests.cluster_helpers import eventually
from tests.integration.matchmaking.conftest import LIMITS, RecordingNotifier, mm_store
from tests.integration.matchmaking.test_crash import start_worker

ALLOC_LIMITS = MatchmakingLimits(lease_s=2.0, tick_s=0.05, allocator_timeout_s=0.3)


async def queue(service: MatchmakingService, **settings: Any) -> str:
    config = QueueConfig.from_dict(
        {"window_start": 100.0, "window_widen_per_s": 0.0, "window_max": 100.0, **settings}
    )
    await service.create_queue(config)
    return config.name


async def test_tickets_match_only_tickets_with_the_same_match_on_values(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    name = await queue(service, name="modes", match_on=["mode"])
    ctf1 = await service.join(name, "a", properties={"mode": "ctf", "skin": "red"})
    dm = await service.join(name, "b", properties={"mode": "dm"})
    ctf2 = await service.join(name, "c", properties={"mode": "ctf", "skin": "blue"})
    worker = make_worker()
    for _ in range(3):
        await worker.run_once()
    assert [await service.status(t) for t in (ctf1, dm, ctf2)] == [
        "matched",
        "searching",
        "matched",
    ]
    [event] = notifier.found_for("a")
    assert sorted(map(sorted, event["teams"])) == [["a"], ["c"]]
    assert event["properties"] == {
        "a": {"mode": "ctf", "skin": "red"},
        "c": {"mode": "ctf", "skin": "blue"},
    }
    assert event["server"] is None and event["backfill"] is False
    with pytest.raises(BadRequest):
        await service.join(name, "d", properties={"map": "x"})


async def test_a_free_for_all_queue_starts_short_only_after_fill_wait(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier, clock: FixedClock
) -> None:
    name = await queue(service, name="ffa", min_players=3, max_players=6, fill_wait_s=5.0)
    tickets = [await service.join(name, f"f{i}") for i in range(4)]
    worker = make_worker()
    await worker.run_once()
    assert {await service.status(t) for t in tickets} == {"searching"}
    clock.advance(5.0)
    await worker.run_once()
    assert {await service.status(t) for t in tickets} == {"matched"}
    [event] = notifier.found_for("f0")
    assert sorted(event["teams"]) == [["f0"], ["f1"], ["f2"], ["f3"]]


async def test_a_failing_slow_or_junk_allocator_keeps_the_tickets_until_one_answers(
    valkey: ValkeyCluster,
    service: MatchmakingService,
    clock: FixedClock,
    notifier: RecordingNotifier,
    allocator: Allocator,
) -> None:
    allocator.answers = ["fail", "slow", "junk", "big", "ok"]
    url = f"http://127.0.0.1:{allocator.port}/allocate"
    name = await queue(service, name="hosted", allocator=url)
    t1 = await service.join(name, "h1", properties={"mode": "x"})
    t2 = await service.join(name, "h2")
    created = (await service.ticket(t1)).created_at
    http = HttpAllocator()
    worker = MatchmakingWorker(
        mm_store(valkey), clock, notifier, "w1", limits=ALLOC_LIMITS, allocator=http
    )
    try:
        for attempt in range(4):
            report = await worker.run_once()
            assert (report.matches, report.allocator_failures) == (0, 1), attempt
            assert [await service.status(t) for t in (t1, t2)] == ["searching", "searching"]
            assert notifier.found == []
            # Backing off: the next tick asks nobody.
            asked = len(allocator.requests)
            assert (await worker.run_once()).matches == 0
            assert len(allocator.requests) == asked
            clock.advance(ALLOC_LIMITS.allocator_backoff_max_s)
        report = await worker.run_once()
    finally:
        await http.aclose()
    assert report.matches == 1
    # Back in their place: the waits they had before the failures.
    assert (await service.ticket(t1)).created_at == created
    told = Counter(p for players, _ in notifier.found for p in players)
    assert told == {"h1": 1, "h2": 1}
    [event] = notifier.found_for("h1")
    assert event["server"] == {"address": "10.0.0.7", "port": 7777, "token": "t"}
    headers, body = allocator.requests[-1]
    assert headers["idempotency-key"] == event["match_id"] == body["match_id"]
    assert body["queue"] == name and sorted(map(sorted, body["teams"])) == [["h1"], ["h2"]]
    assert body["properties"]["h1"] == {"mode": "x"}
    [stats] = [q for q in await service.list_queue_stats() if q["queue"] == name]
    assert stats["allocator_failures"] == 4 and stats["matches"] == 1
    assert await service.allocator_failures() == {name: 4}
    view = await service.match_view(event["match_id"])
    assert view["server"] == event["server"] and view["state"] == "started"


async def make_match(
    service: MatchmakingService, worker: MatchmakingWorker, name: str, players: list[str]
) -> str:
    tickets = [await service.join(name, p) for p in players]
    await worker.run_once()
    ticket = await service.ticket(tickets[0])
    assert ticket.match_id is not None
    return ticket.match_id


async def test_a_backfill_adds_fitting_waiting_players_who_are_told_with_the_full_teams(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    name = await queue(service, name="squad", team_size=2, match_on=["mode"])
    worker = make_worker()
    tickets = [await service.join(name, p, properties={"mode": "ctf"}) for p in "abcd"]
    await worker.run_once()
    match_id = (await service.ticket(tickets[0])).match_id
    assert match_id is not None
    before = await service.match_view(match_id)
    team = next(i for i, t in enumerate(before["teams"]) if "a" in t)
    backfill_id = await service.open_backfill(match_id, [{"team": team, "slots": 1}])
    assert (await service.match_view(match_id))["state"] == "backfilling"
    other_mode = await service.join(name, "x", properties={"mode": "dm"})
    late = await service.join(name, "e", properties={"mode": "ctf", "hat": 1})
    await worker.run_once()
    assert await service.status(late) == "matched"
    assert await service.status(other_mode) == "searching"
    [event] = notifier.found_for("e")
    assert event["backfill"] is True and event["ticket"] == late
    assert event["match_id"] == match_id
    assert "e" in event["teams"][team] and len(event["teams"][team]) == 3
    assert event["properties"]["e"] == {"mode": "ctf", "hat": 1}
    assert len(notifier.found_for("a")) == 1, "players already in the match get no push"
    view = await service.match_view(match_id)
    assert view["teams"] == event["teams"]
    assert view["state"] == "started" and view["backfill"] is None
    assert backfill_id.startswith("bf.")
    [stats] = [q for q in await service.list_queue_stats() if q["queue"] == name]
    assert (stats["backfilled"], stats["matches"]) == (1, 1)
    # Filled: the next fitting ticket waits for a match of its own.
    assert await service.status(await service.join(name, "f", properties={"mode": "ctf"}))
    await worker.run_once()
    assert len(notifier.found_for("f")) == 0


async def test_a_stopped_backfill_takes_nobody(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    name = await queue(service, name="stop")
    worker = make_worker()
    match_id = await make_match(service, worker, name, ["a", "b"])
    await service.open_backfill(match_id, [{"team": 0, "slots": 1}])
    await service.close_backfill(match_id)
    late = await service.join(name, "c")
    await worker.run_once()
    assert await service.status(late) == "searching"
    assert (await service.match_view(match_id))["teams"] in ([["a"], ["b"]], [["b"], ["a"]])
    await service.report_result(match_id, [1, 2])
    assert (await service.match_view(match_id))["state"] == "finished"
    with pytest.raises(MatchNotFound):
        await service.open_backfill("0123456789.ffff", [{"team": 0, "slots": 1}])
    with pytest.raises(BadRequest):
        await service.open_backfill(match_id, [{"team": 5, "slots": 1}])


async def test_a_ticket_cancelled_while_its_fill_was_planned_is_left_out_and_the_slots_stay_open(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    name = await queue(service, name="racy")
    worker = make_worker()
    match_id = await make_match(service, worker, name, ["a", "b"])
    await service.open_backfill(match_id, [{"team": 0, "slots": 1}, {"team": 1, "slots": 1}])
    quitter = await service.join(name, "c")
    stayer = await service.join(name, "d")
    store: PartitionStore = worker._store  # the fault goes between the plan and its commit
    commit = store.fill
    replies: list[tuple[str, list[str]] | None] = []

    async def cancel_then_fill(*args: Any) -> tuple[str, list[str]] | None:
        if not replies:  # c leaves after the worker planned to add it, before the commit
            await service.cancel("c", quitter)
        reply = await commit(*args)
        replies.append(reply)
        return reply

    store.fill = cancel_then_fill  # type: ignore[method-assign,assignment]
    await worker.run_once()
    # The whole fill is refused: neither ticket added, c named as gone.
    assert replies == [("gone", [quitter])]
    assert await service.status(stayer) == "searching"
    await worker.run_once()
    assert [await service.status(t) for t in (quitter, stayer)] == ["cancelled", "matched"]
    view = await service.match_view(match_id)
    assert sorted(p for t in view["teams"] for p in t) == ["a", "b", "d"]
    assert view["state"] == "backfilling" and view["backfill"]["open"] == [
        {"team": 1 - next(i for i, t in enumerate(view["teams"]) if "d" in t), "slots": 1}
    ]
    assert notifier.found_for("c") == []
    [event] = notifier.found_for("d")
    assert event["backfill"] is True and event["match_id"] == match_id


async def test_a_backfill_stopped_or_replaced_while_its_fill_was_planned_adds_nobody(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    name = await queue(service, name="moved")
    worker = make_worker()
    match_id = await make_match(service, worker, name, ["a", "b"])
    await service.open_backfill(match_id, [{"team": 0, "slots": 1}])
    late = await service.join(name, "c")
    store: PartitionStore = worker._store  # the fault goes between the plan and its commit
    commit = store.fill
    replies: list[tuple[str, list[str]] | None] = []
    changes: list[Callable[[], Awaitable[object]]] = [
        lambda: service.close_backfill(match_id),
        lambda: service.open_backfill(match_id, [{"team": 1, "slots": 1}]),
    ]

    async def change_then_fill(*args: Any) -> tuple[str, list[str]] | None:
        await changes[len(replies)]()
        reply = await commit(*args)
        replies.append(reply)
        return reply

    store.fill = change_then_fill  # type: ignore[method-assign,assignment]
    # Stopped after the worker planned c into it: nobody is added.
    await worker.run_once()
    assert replies == [("closed", [])]
    assert await service.status(late) == "searching"
    # Opened again, then replaced by another before the commit: the planned one is gone.
    await service.open_backfill(match_id, [{"team": 0, "slots": 1}])
    await worker.run_once()
    assert replies[1] == ("closed", [])
    assert await service.status(late) == "searching"
    view = await service.match_view(match_id)
    assert sum(len(t) for t in view["teams"]) == 2
    assert view["backfill"]["open"] == [{"team": 1, "slots": 1}]
    assert notifier.found_for("c") == []
    # The replacement is filled next tick, on its own team.
    store.fill = commit  # type: ignore[method-assign]
    await worker.run_once()
    assert await service.status(late) == "matched"
    assert "c" in (await service.match_view(match_id))["teams"][1]


async def test_a_finished_match_takes_no_backfill_and_its_result_stops_an_open_one(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    name = await queue(service, name="over")
    worker = make_worker()
    match_id = await make_match(service, worker, name, ["a", "b"])
    await service.open_backfill(match_id, [{"team": 0, "slots": 1}])
    await service.report_result(match_id, [1, 2])
    late = await service.join(name, "c")
    await worker.run_once()
    assert await service.status(late) == "searching"
    view = await service.match_view(match_id)
    assert (view["state"], view["backfill"]) == ("finished", None)
    with pytest.raises(Conflict):
        await service.open_backfill(match_id, [{"team": 0, "slots": 1}])
    await worker.run_once()
    assert await service.status(late) == "searching"
    assert notifier.found_for("c") == []


async def test_a_backfill_survives_a_killed_worker(
    valkey: ValkeyCluster,
    cluster_seeds: tuple[tuple[str, int], ...],
    service: MatchmakingService,
    make_worker: Any,
    clock: FixedClock,
) -> None:
    name = await queue(service, name="survive")
    match_id = await make_match(service, make_worker("maker"), name, ["a", "b"])
    await make_worker("maker").release_all()
    await service.open_backfill(match_id, [{"team": 0, "slots": 1}, {"team": 1, "slots": 1}])
    proc = await start_worker(cluster_seeds, "doomed")
    try:
        # Tickets made now by the fixed clock: the process's system clock is later, so
        # the pool takes them as already waiting.
        first = await service.join(name, "c")

        async def filled(n: int) -> bool:
            view = await service.match_view(match_id)
            return sum(len(t) for t in view["teams"]) == n

        await eventually(lambda: filled(3), timeout_s=30)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
    assert await service.status(first) == "matched"
    assert (await service.match_view(match_id))["state"] == "backfilling"
    second = await service.join(name, "d")
    heir = MatchmakingWorker(mm_store(valkey), clock, RecordingNotifier(), "heir", limits=LIMITS)
    await eventually(lambda: _ticked(heir), timeout_s=10)
    await eventually(lambda: filled(4), timeout_s=10)
    view = await service.match_view(match_id)
    assert view["state"] == "started"
    assert sorted(p for t in view["teams"] for p in t) == ["a", "b", "c", "d"]
    assert await service.status(second) == "matched"


async def test_a_fill_committed_by_a_worker_that_died_before_its_push_is_pushed_by_the_heir(
    valkey: ValkeyCluster,
    service: MatchmakingService,
    clock: FixedClock,
    notifier: RecordingNotifier,
) -> None:
    name = await queue(service, name="heirfill")
    doomed = MatchmakingWorker(mm_store(valkey), clock, notifier, "doomed", limits=LIMITS)
    match_id = await make_match(service, doomed, name, ["a", "b"])
    await service.open_backfill(match_id, [{"team": 0, "slots": 1}])
    late = await service.join(name, "c")

    async def dies_before_pushing(items: Any) -> None:
        if items:
            raise asyncio.CancelledError  # the process is gone: nothing after this runs

    doomed._delivery.deliver = dies_before_pushing  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await doomed.run_once()
    # Committed, not told.
    assert await service.status(late) == "matched"
    assert notifier.found_for("c") == []
    heir = MatchmakingWorker(mm_store(valkey), clock, notifier, "heir", limits=LIMITS)

    async def told() -> bool:
        await heir.run_once()
        return bool(notifier.found_for("c"))

    await eventually(told, timeout_s=15)
    [event] = notifier.found_for("c")
    assert (event["backfill"], event["match_id"], event["ticket"]) == (True, match_id, late)
    view = await service.match_view(match_id)
    assert event["teams"] == view["teams"] and sum(len(t) for t in view["teams"]) == 3
    assert [len(notifier.found_for(p)) for p in ("a", "b")] == [1, 1]


async def _ticked(worker: MatchmakingWorker) -> bool:
    report = await worker.run_once()
    return report.partitions > 0


class CrashAfterAnswer:
    """A ServerAllocator whose worker dies right after the answer, before its commit."""

    def __init__(self, inner: HttpAllocator) -> None:
        self.inner = inner

    async def allocate(
        self, url: str, request: dict[str, Any], idempotency_key: str, timeout_s: float
    ) -> dict[str, Any]:
        await self.inner.allocate(url, request, idempotency_key, timeout_s)
        raise asyncio.CancelledError  # the process is gone: nothing after this runs


async def test_a_worker_dead_between_allocation_and_commit_repeats_only_the_allocation(
    valkey: ValkeyCluster,
    service: MatchmakingService,
    clock: FixedClock,
    notifier: RecordingNotifier,
    allocator: Allocator,
) -> None:
    url = f"http://127.0.0.1:{allocator.port}/"
    name = await queue(service, name="crashy", allocator=url)
    tickets = [await service.join(name, p) for p in ("a", "b")]
    http = HttpAllocator()
    try:
        doomed = MatchmakingWorker(
            mm_store(valkey),
            clock,
            notifier,
            "doomed",
            limits=ALLOC_LIMITS,
            allocator=CrashAfterAnswer(http),
        )
        with pytest.raises(asyncio.CancelledError):
            await doomed.run_once()
        assert [await service.status(t) for t in tickets] == ["searching", "searching"]
        heir = MatchmakingWorker(
            mm_store(valkey), clock, notifier, "heir", limits=ALLOC_LIMITS, allocator=http
        )

        async def matched() -> bool:
            await heir.run_once()
            return await service.status(tickets[0]) == "matched"

        await eventually(matched, timeout_s=15)
    finally:
        await http.aclose()
    # Asked twice for the same match, with the same key; the players told once.
    keys = [headers["idempotency-key"] for headers, _ in allocator.requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    told = Counter(p for players, _ in notifier.found for p in players)
    assert told == {"a": 1, "b": 1}
    [event] = notifier.found_for("a")
    assert event["match_id"] == keys[0] and event["server"]["address"] == "10.0.0.7"
