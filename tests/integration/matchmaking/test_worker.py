from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.errors import Conflict
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import Match
from domain.matchmaking.partition_store import Commit, PartitionStore
from domain.matchmaking.rating_store import encode_match
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.store import code_of
from domain.parties.service import PartyService
from tests.integration.matchmaking.conftest import RecordingNotifier, mm_store
from tests.integration.parties.helpers import party_of


async def _two_tickets_read_by_a_ghost(
    service: MatchmakingService, valkey: ValkeyCluster, lease_ms: int
) -> tuple[str, str, str, PartitionStore, dict[str, str]]:
    """p1 and p2 join `open`; a worker named "ghost" takes the partition and reads both."""
    t1 = await service.join("open", "p1")
    t2 = await service.join("open", "p2")
    code = code_of(t1)
    assert code is not None
    store = PartitionStore(mm_store(valkey))
    assert await store.acquire(code, "ghost", lease_ms)
    read = await store.read(code, "ghost", lease_ms, 10, [])
    assert read is not None
    entries, _ = read
    return t1, t2, code, store, {e.ticket_id: e.entry_id for e in entries}


async def test_two_players_are_matched_and_both_told(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    t1 = await service.join("open", "p1")
    t2 = await service.join("open", "p2")
    report = await make_worker().run_once()
    assert report.matches == 1
    assert [await service.status(t) for t in (t1, t2)] == ["matched", "matched"]
    [e1] = notifier.found_for("p1")
    [e2] = notifier.found_for("p2")
    assert e1["match_id"] == e2["match_id"]
    assert (e1["ticket"], e2["ticket"]) == (t1, t2)
    assert e1["event"] == "match.found" and e1["queue"] == "open"
    assert sorted(map(sorted, e1["teams"])) == [["p1"], ["p2"]]
    assert isinstance(e1["ts"], int)
    assert await service.players_in_match(["p1", "p2", "p3"]) == {"p1", "p2"}
    # Matched players are free to queue again.
    assert await service.status(await service.join("open", "p1")) == "searching"


async def test_parties_are_matched_whole(
    service: MatchmakingService,
    make_worker: Any,
    notifier: RecordingNotifier,
    parties: PartyService,
) -> None:
    await service.join("two", "a", party_id=await party_of(parties, "a", "b"))
    await service.join("two", "c")
    await service.join("two", "d")
    assert (await make_worker().run_once()).matches == 1
    [event] = notifier.found_for("a")
    assert sorted(map(sorted, event["teams"])) == [["a", "b"], ["c", "d"]]
    assert notifier.found_for("b")[0]["ticket"] == event["ticket"]


async def test_a_ticket_cancelled_from_the_pool_leaves_the_next_tick_clean(
    service: MatchmakingService,
    make_worker: Any,
    notifier: RecordingNotifier,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The cancel takes the ticket out of the worker's pool: the next tick matches the two
    who are left at once, with no failed tick (and no rebuild) in between."""
    worker = make_worker()
    t1 = await service.join("open", "p1")
    await worker.run_once()  # the worker now holds p1 in its pool
    await service.cancel("p1", t1)
    t2 = await service.join("open", "p2")
    t3 = await service.join("open", "p3")
    with caplog.at_level(logging.WARNING, logger="domain.matchmaking"):
        report = await worker.run_once()
    assert report.matches == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert notifier.found_for("p1") == []
    assert [await service.status(t) for t in (t1, t2, t3)] == ["cancelled", "matched", "matched"]


async def test_a_cancelled_ticket_is_never_matched(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    worker = make_worker()
    t1 = await service.join("open", "p1")
    await worker.run_once()  # the worker now holds p1 in its pool
    await service.cancel("p1", t1)
    t2 = await service.join("open", "p2")
    assert (await worker.run_once()).matches == 0
    await service.join("open", "p3")
    assert (await worker.run_once()).matches == 1
    assert notifier.found_for("p1") == []
    assert await service.status(t1) == "cancelled"
    assert await service.status(t2) == "matched"


async def test_a_commit_fails_whole_when_one_ticket_was_cancelled(
    service: MatchmakingService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    t1, t2, code, store, sids = await _two_tickets_read_by_a_ghost(service, valkey, 5_000)
    await service.cancel("p1", t1)
    match = Match(f"{code}.0000000000000001", "open", (("p1",), ("p2",)), (t1, t2), 0.0, (0.5, 0.5))
    commit = Commit(
        match.match_id,
        encode_match(match, [(t1, ["p1"]), (t2, ["p2"])]),
        0.0,
        [(t1, sids[t1]), (t2, sids[t2])],
    )
    now_ms = round(clock.now() * 1000)
    settled = await store.settle(code, "ghost", now_ms, [commit], [], 60_000, 60_000, 10)
    assert settled == ([[t1]], [])
    assert await service.status(t1) == "cancelled"
    assert await service.status(t2) == "searching"
    assert await service.players_in_match(["p1", "p2"]) == set()
    # The lease decides: a worker that lost it commits nothing.
    assert await store.settle(code, "other", now_ms, [commit], [], 60_000, 60_000, 10) is None


async def test_cancels_racing_ticks_never_leave_a_cancelled_ticket_matched(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    worker = make_worker()
    for i in range(15):
        a, b = f"a{i}", f"b{i}"
        ta = await service.join("open", a)
        await service.join("open", b)
        tick, cancel = await asyncio.gather(
            worker.run_once(), service.cancel(a, ta), return_exceptions=True
        )
        assert not isinstance(tick, BaseException)
        if isinstance(cancel, Conflict):
            assert await service.status(ta) == "matched"
            assert len(notifier.found_for(a)) == 1
        else:
            assert cancel is None
            assert await service.status(ta) == "cancelled"
            assert notifier.found_for(a) == []
        await worker.run_once()  # b, if left alone, pairs with the next round's players


async def test_a_ticket_past_its_wait_expires_with_a_push(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier, clock: FixedClock
) -> None:
    worker = make_worker()
    ticket = await service.join("short", "p1")
    await worker.run_once()
    assert await service.status(ticket) == "searching"
    clock.advance(4.9)
    assert (await worker.run_once()).expired == 0
    clock.advance(0.2)
    assert (await worker.run_once()).expired == 1
    assert await service.status(ticket) == "expired"
    assert notifier.expired == [
        (["p1"], {"event": "match.expired", "ticket": ticket, "ts": round(clock.now() * 1000)})
    ]
    with pytest.raises(Conflict):
        await service.cancel("p1", ticket)
    assert await service.status(await service.join("short", "p1")) == "searching"


async def test_workers_split_the_partitions_and_inherit_a_leavers(
    service: MatchmakingService, make_worker: Any
) -> None:
    for region in ("eu", "us", "ap", "sa"):
        await service.join("regional", f"p-{region}", properties={"region": region})
    steady = MatchmakingLimits(lease_s=5.0, tick_s=0.05)  # no expiry even on a slow box
    w1, w2 = make_worker("w1", steady), make_worker("w2", steady)
    for _ in range(4):
        await w1.run_once()
        await w2.run_once()
    assert len(w1.owned) == len(w2.owned) == 2
    assert w1.owned.isdisjoint(w2.owned)
    await w1.release_all()
    await w2.run_once()
    assert len(w2.owned) == 4


async def test_a_dead_workers_reads_are_reclaimed_after_its_lease(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    limits = MatchmakingLimits(lease_s=2.0, tick_s=0.05)
    dead = make_worker("dead", limits)
    t1 = await service.join("open", "p1")
    await dead.run_once()  # reads p1, never acknowledges: it dies here
    t2 = await service.join("open", "p2")
    heir = make_worker("heir", limits)
    assert (await heir.run_once()).partitions == 0  # the lease still holds
    await asyncio.sleep(2.1)
    assert (await heir.run_once()).matches == 1
    assert [await service.status(t) for t in (t1, t2)] == ["matched", "matched"]
    # The dead worker, back from a pause, has lost its partition and commits nothing.
    assert (await dead.run_once()).matches == 0
    assert dead.owned == frozenset()
    assert len(notifier.found_for("p1")) == 1


async def test_pushes_a_dead_worker_committed_but_never_sent_are_sent_by_the_heir(
    service: MatchmakingService,
    valkey: ValkeyCluster,
    clock: FixedClock,
    make_worker: Any,
    notifier: RecordingNotifier,
) -> None:
    t1, t2, code, store, sids = await _two_tickets_read_by_a_ghost(service, valkey, 300)
    match = Match(f"{code}.0000000000000002", "open", (("p1",), ("p2",)), (t1, t2), 0.0, (0.5, 0.5))
    payload = encode_match(match, [(t1, ["p1"]), (t2, ["p2"])])
    commit = Commit(match.match_id, payload, 0.0, [(t1, sids[t1]), (t2, sids[t2])])
    now_ms = round(clock.now() * 1000)
    settled = await store.settle(code, "ghost", now_ms, [commit], [], 60_000, 60_000, 10)
    assert settled is not None and settled[0] == [""]
    await asyncio.sleep(0.4)
    await make_worker("heir").run_once()
    assert [e["ticket"] for e in notifier.found_for("p1")] == [t1]
    assert [e["ticket"] for e in notifier.found_for("p2")] == [t2]
    assert await service.players_in_match(["p1", "p2"]) == {"p1", "p2"}


async def test_a_commit_whose_reply_was_lost_is_still_announced_once(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    worker = make_worker()
    real_settle = worker._store.settle

    async def settle_then_lose_the_reply(*args: Any, **kwargs: Any) -> Any:
        worker._store.settle = real_settle  # only the first reply is lost
        await real_settle(*args, **kwargs)
        raise ConnectionError("reply lost")

    worker._store.settle = settle_then_lose_the_reply
    t1 = await service.join("open", "p1")
    t2 = await service.join("open", "p2")
    assert (await worker.run_once()).matches == 0
    assert [await service.status(t) for t in (t1, t2)] == ["matched", "matched"]
    assert notifier.found == []
    await worker.run_once()
    await worker.run_once()
    assert [e["ticket"] for e in notifier.found_for("p1")] == [t1]
    assert [e["ticket"] for e in notifier.found_for("p2")] == [t2]


async def test_a_graceful_handover_repeats_no_push(
    service: MatchmakingService, make_worker: Any, notifier: RecordingNotifier
) -> None:
    first, second = make_worker("first"), make_worker("second")
    await service.join("open", "p1")
    await service.join("open", "p2")
    assert (await first.run_once()).matches == 1
    await first.release_all()
    await second.run_once()
    assert second.owned and len(notifier.found) == 2
