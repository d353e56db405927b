"""One partition's share of a tick: expire, form matches, commit them, keep the pool true."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import Match, QueueConfig
from domain.matchmaking.partition_store import Commit, Expiry, PartitionStore
from domain.matchmaking.rating_store import encode_match
from domain.matchmaking.rules import expired, form_matches

if TYPE_CHECKING:
    from domain.matchmaking.worker import PartitionState


@dataclass
class SettleOutcome:
    matches: int = 0
    expired: int = 0
    # Pushes to deliver: ('f', match record) or ('e', expiry record).
    deliveries: list[tuple[str, bytes]] = field(default_factory=list)
    # Outbox entries holding those pushes, to delete once delivered.
    outbox_ids: list[str] = field(default_factory=list)


def new_match_id(code: str) -> str:
    return f"{code}.{secrets.token_hex(8)}"


def _forget(state: PartitionState, ticket_id: str) -> None:
    state.pool.pop(ticket_id, None)
    state.entry_of.pop(ticket_id, None)


async def settle_partition(
    store: PartitionStore,
    state: PartitionState,
    queue: QueueConfig,
    owner: str,
    now: float,
    limits: MatchmakingLimits,
) -> SettleOutcome | None:
    """Expire and match what the pool allows; None if the partition's lease was lost."""
    # Ticket times are whole milliseconds; so is the time the scripts compare them with.
    now_ms = round(now * 1000)
    now = now_ms / 1000.0
    pool = list(state.pool.values())
    due = expired(pool, now, queue.max_wait_s)
    due_ids = {c.ticket_id for c in due}
    plans = form_matches(queue, [c for c in pool if c.ticket_id not in due_ids], now)
    commits: list[Commit] = []
    for plan in plans:
        match = Match(
            match_id=new_match_id(state.code),
            queue=queue.name,
            teams=plan.player_teams,
            tickets=tuple(c.ticket_id for c in plan.tickets),
            created_at=now,
            win_probabilities=plan.win_probabilities,
            region=plan.region,
        )
        members = [(c.ticket_id, c.players) for c in plan.tickets]
        commits.append(
            Commit(
                match_id=match.match_id,
                payload=encode_match(match, members),
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
    outcome = SettleOutcome()
    batch = limits.commit_batch
    for start in range(0, max(len(commits), 1), batch):
        chunk = commits[start : start + batch]
        due_now = expiries if start == 0 else []
        if not chunk and not due_now:
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
        )
        if reply is None:
            return None
        results, outbox_ids = reply
        outcome.outbox_ids += outbox_ids
        for commit, result in zip(chunk, results[: len(chunk)], strict=True):
            if result == "":
                for ticket_id, _ in commit.tickets:
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
