"""One partition's share of a tick: backfill, expire, form matches, allocate servers,
commit them, keep the pool true."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import orjson

from domain.matchmaking.functions import OpenBackfill
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import Match, QueueConfig
from domain.matchmaking.partition_store import Commit, Expiry, Fill, PartitionStore
from domain.matchmaking.ports import ServerAllocator
from domain.matchmaking.rating_store import match_record
from domain.matchmaking.rules import Candidate, MatchPlan, expired, form_matches, plan_backfill

if TYPE_CHECKING:
    from domain.matchmaking.worker import PartitionState

log = logging.getLogger(__name__)


@dataclass
class SettleOutcome:
    matches: int = 0
    expired: int = 0
    backfilled: int = 0
    allocator_failures: int = 0
    # How long each ticket of the committed matches waited, in seconds.
    waits_s: list[float] = field(default_factory=list)
    # Pushes to deliver: ('f', match record), ('b', backfill) or ('e', expiry record).
    deliveries: list[tuple[str, bytes]] = field(default_factory=list)
    # Outbox entries holding those pushes, to delete once delivered.
    outbox_ids: list[str] = field(default_factory=list)


def new_match_id(code: str, ticket_ids: Sequence[str]) -> str:
    """The id of the match of exactly these tickets.

    Derived from the (random) ticket ids, so a worker that forms the same match again
    after another crashed between the allocator's answer and the commit asks the
    allocator with the same idempotency key; a ticket is matched at most once, so no two
    committed matches share an id.
    """
    digest = hashlib.blake2b("/".join(sorted(ticket_ids)).encode(), digest_size=8)
    return f"{code}.{digest.hexdigest()}"


def _forget(state: PartitionState, ticket_id: str) -> None:
    state.pool.pop(ticket_id, None)
    state.entry_of.pop(ticket_id, None)


def _carried(tickets: tuple[Candidate, ...]) -> dict[str, Any]:
    """Each player's properties, as their ticket carried them."""
    return {p: c.carried or {} for c in tickets for p in c.players}


async def _allocate(
    allocator: ServerAllocator | None,
    queue: QueueConfig,
    record: dict[str, Any],
    timeout_s: float,
) -> tuple[bool, Any]:
    """(True, server) or (False, None) when the allocator failed or was too slow."""
    if queue.allocator is None:
        return True, None
    if allocator is None:
        log.error("queue %s has an allocator and this worker cannot call it", queue.name)
        return False, None
    request = {
        "match_id": record["match_id"],
        "queue": record["queue"],
        "teams": record["teams"],
        "properties": record["properties"],
        "region": record["region"],
    }
    try:
        async with asyncio.timeout(timeout_s):
            server = await allocator.allocate(
                queue.allocator, request, record["match_id"], timeout_s
            )
    except Exception as exc:  # noqa: BLE001 (any failure: the tickets go back)
        log.warning("allocator of queue %s failed: %r", queue.name, exc)
        return False, None
    return True, server


async def settle_partition(
    store: PartitionStore,
    state: PartitionState,
    queue: QueueConfig,
    owner: str,
    now: float,
    limits: MatchmakingLimits,
    allocator: ServerAllocator | None = None,
) -> SettleOutcome | None:
    """Backfill, expire and match what the pool allows; None if the lease was lost."""
    # Ticket times are whole milliseconds; so is the time the functions compare them with.
    now_ms = round(now * 1000)
    now = now_ms / 1000.0
    outcome = SettleOutcome()
    if state.backfills:
        if not await _backfill(store, state, queue, owner, now_ms, limits, outcome):
            return None
    pool = list(state.pool.values())
    due = expired(pool, now, queue.max_wait_s)
    due_ids = {c.ticket_id for c in due}
    backing_off = queue.allocator is not None and now < state.allocate_after
    plans = (
        []
        if backing_off
        else form_matches(queue, [c for c in pool if c.ticket_id not in due_ids], now)
    )
    records = [_record(state.code, queue, plan, now) for plan in plans]
    # Half a lease at most: a slow allocator never costs the partition its lease.
    timeout_s = min(limits.allocator_timeout_s, limits.lease_s / 2)
    # Every server is asked before anyone is told; a failed one leaves its tickets
    # in the pool, with their wait, for the next tick.
    allocated = await asyncio.gather(*(_allocate(allocator, queue, r, timeout_s) for r in records))
    if any(not ok for ok, _ in allocated):
        state.failed_allocations_in_row += 1
        backoff = limits.tick_s * 2 ** min(state.failed_allocations_in_row - 1, 16)
        state.allocate_after = now + min(backoff, limits.allocator_backoff_max_s)
    elif allocated:
        state.failed_allocations_in_row = 0
    commits: list[Commit] = []
    for plan, record, (ok, server) in zip(plans, records, allocated, strict=True):
        if not ok:
            outcome.allocator_failures += 1
            continue
        record["server"] = server
        commits.append(
            Commit(
                match_id=record["match_id"],
                payload=orjson.dumps(record),
                gap=plan.fairness_gap,
                tickets=[(c.ticket_id, state.entry_of[c.ticket_id]) for c in plan.tickets],
            )
        )
    expiries = [
        Expiry(
            ticket_id=c.ticket_id,
            entry_id=state.entry_of[c.ticket_id],
            max_wait_ms=round(queue.max_wait_s * 1000),
            payload=orjson.dumps(
                {"ticket": c.ticket_id, "queue": queue.name, "players": list(c.players)}
            ),
        )
        for c in due
    ]
    batch = limits.commit_batch
    failures = outcome.allocator_failures
    for start in range(0, max(len(commits), 1), batch):
        chunk = commits[start : start + batch]
        due_now = expiries if start == 0 else []
        if not chunk and not due_now and not failures:
            break
        reply = await store.settle(
            state.code,
            owner,
            now_ms,
            chunk,
            due_now,
            round(limits.match_ttl_s * 1000),
            round(limits.ticket_retention_s * 1000),
            limits.waits_kept,
            failures,
        )
        failures = 0
        if reply is None:
            return None
        results, outbox_ids = reply
        outcome.outbox_ids += outbox_ids
        for commit, result in zip(chunk, results[: len(chunk)], strict=True):
            if result == "":
                for ticket_id, _ in commit.tickets:
                    matched = state.pool.get(ticket_id)
                    if matched is not None:
                        outcome.waits_s.append(now - matched.created_at)
                    _forget(state, ticket_id)
                outcome.matches += 1
                outcome.deliveries.append(("f", commit.payload))
            else:
                # Cancelled meanwhile (the cancel entry is on its way) or finished: the
                # others wait for the next tick.
                for ticket_id in result:
                    _forget(state, ticket_id)
        for expiry, result in zip(due_now, results[len(chunk) :], strict=True):
            if result == "x":
                _forget(state, expiry.ticket_id)
                outcome.expired += 1
                outcome.deliveries.append(("e", expiry.payload))
            else:
                for ticket_id in result:
                    _forget(state, ticket_id)
    return outcome


def _record(code: str, queue: QueueConfig, plan: MatchPlan, now: float) -> dict[str, Any]:
    match = Match(
        match_id=new_match_id(code, [c.ticket_id for c in plan.tickets]),
        queue=queue.name,
        teams=plan.player_teams,
        tickets=tuple(c.ticket_id for c in plan.tickets),
        created_at=now,
        win_probabilities=plan.win_probabilities,
        region=plan.region,
    )
    tickets = plan.tickets
    players = sum(c.size for c in tickets)
    return match_record(
        match,
        [(c.ticket_id, c.players) for c in tickets],
        properties=_carried(tickets),
        skill=sum(c.mu_sum for c in tickets) / players,
    )


async def _backfill(
    store: PartitionStore,
    state: PartitionState,
    queue: QueueConfig,
    owner: str,
    now_ms: int,
    limits: MatchmakingLimits,
    outcome: SettleOutcome,
) -> bool:
    """Fill the open backfills from the pool, one commit each; False if the lease is lost."""
    now = now_ms / 1000.0
    oldest_first = sorted(state.pool.values(), key=attrgetter("created_at"))
    used: set[str] = set()
    for open_backfill in state.backfills:
        fill = _plan_fill(
            queue, open_backfill, [c for c in oldest_first if c.ticket_id not in used], now, state
        )
        if fill is None:
            continue
        reply = await store.fill(
            state.code,
            owner,
            now_ms,
            fill,
            round(limits.ticket_retention_s * 1000),
            limits.waits_kept,
        )
        if reply is None:
            return False
        status, ids = reply
        if status == "ok":
            for ticket_id, _ in fill.tickets:
                _forget(state, ticket_id)
                used.add(ticket_id)
            outcome.backfilled += len(fill.tickets)
            outcome.outbox_ids += ids
            outcome.deliveries.append(("b", fill.push))
        elif status == "gone":
            for ticket_id in ids:
                _forget(state, ticket_id)
    state.backfills = []
    return True


def _plan_fill(
    queue: QueueConfig,
    open_backfill: OpenBackfill,
    oldest_first: list[Candidate],
    now: float,
    state: PartitionState,
) -> Fill | None:
    record, backfill = open_backfill.record, open_backfill.backfill
    slots = [(int(s["team"]), int(s["slots"])) for s in backfill["open"]]
    added, left = plan_backfill(
        queue, slots, float(record.get("skill", 0.0)), record.get("region"), oldest_first, now
    )
    if not added:
        return None
    teams = [list(team) for team in record["teams"]]
    for team, c in added:
        if queue.free_for_all:  # one team per player, as in every free-for-all match
            teams += [[p] for p in c.players]
        else:
            teams[team] += c.players
    new_tickets = [[c.ticket_id, list(c.players)] for _, c in added]
    record = {
        **record,
        "teams": teams,
        "tickets": record["tickets"] + new_tickets,
        "properties": {**record.get("properties", {}), **_carried(tuple(c for _, c in added))},
    }
    left_open = (
        orjson.dumps({**backfill, "open": [{"team": t, "slots": n} for t, n in left]})
        if left
        else None
    )
    return Fill(
        match_id=open_backfill.match_id,
        backfill_id=str(backfill["id"]),
        record=orjson.dumps(record),
        open=left_open,
        push=orjson.dumps({"match": record, "added": new_tickets}),
        tickets=[(c.ticket_id, state.entry_of[c.ticket_id]) for _, c in added],
    )
