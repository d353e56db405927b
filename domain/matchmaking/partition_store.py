"""The Valkey side of the workers: leases, partition streams, commits and the outbox.

Entry, OpenBackfill and Registry are replies of matchmaking.lua (functions.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from domain.matchmaking.functions import (
    Ack,
    Applied,
    BackfillFill,
    Entries,
    Entry,
    Filled,
    Heartbeat,
    LeaseHeld,
    LeaseRelease,
    OpenBackfill,
    Outbox,
    Pushes,
    ReadEntries,
    Registry,
    Settle,
    Settled,
    TakenOver,
    Takeover,
)
from domain.matchmaking.store import (
    GROUP,
    PARTITIONS_KEY,
    QUEUES_KEY,
    WORKERS_KEY,
    MatchmakingStore,
    PartitionKeys,
)


@dataclass(frozen=True, slots=True)
class Commit:
    match_id: str
    payload: bytes
    gap: float
    tickets: Sequence[tuple[str, str]]  # (ticket id, its stream entry id)


@dataclass(frozen=True, slots=True)
class Expiry:
    ticket_id: str
    entry_id: str
    max_wait_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Fill:
    """Tickets a backfill adds to its match, with the record and backfill they leave."""

    match_id: str
    backfill_id: str
    record: bytes
    open: bytes | None  # the backfill's slots left; None when it is done
    push: bytes
    tickets: Sequence[tuple[str, str]]  # (ticket id, its stream entry id)


class PartitionStore:
    def __init__(self, store: MatchmakingStore) -> None:
        self._store = store

    async def heartbeat(self, worker_id: str, now_ms: int, stale_ms: int) -> Registry:
        """Say this worker is alive; read the live workers, partitions and queues."""
        # No WAIT: a heartbeat lost in a failover is repeated next tick.
        request = Heartbeat(WORKERS_KEY, PARTITIONS_KEY, QUEUES_KEY, worker_id, now_ms, stale_ms)
        return Registry.decode(await self._store.run(request, idempotent=True))

    async def leave(self, worker_id: str) -> None:
        await self._store.command(
            WORKERS_KEY, "ZREM", WORKERS_KEY, worker_id, idempotent=True, confirm=False
        )

    async def acquire(self, code: str, owner: str, lease_ms: int) -> bool:
        lease = PartitionKeys(code).lease
        # Idempotent enough: a repeat after a lost answer says "not acquired" even if the
        # first took the lease; unrenewed, it lapses after `lease_ms` and is taken again.
        taken = await self._store.command(
            lease, "SET", lease, owner, "NX", "PX", lease_ms, idempotent=True, confirm=False
        )
        return bool(taken)

    async def release(self, code: str, owner: str) -> None:
        request = LeaseRelease(PartitionKeys(code).lease, owner)
        Applied.decode(await self._store.run(request, idempotent=True))

    async def read(
        self,
        code: str,
        owner: str,
        lease_ms: int,
        count: int,
        done_outbox: Sequence[str],
        backfills: int = 64,
    ) -> tuple[list[Entry], list[OpenBackfill]] | None:
        """Renew the lease, read new entries and the open backfills; None if the lease is
        no longer ours."""
        keys = PartitionKeys(code)
        request = ReadEntries(
            keys.lease,
            keys.stream,
            keys.outbox,
            keys.backfills,
            keys.match(""),
            owner,
            lease_ms,
            GROUP,
            count,
            backfills,
            tuple(done_outbox),
        )
        read = Entries.decode(await self._store.run(request))
        return None if read is None else (read.entries, read.open_backfills)

    async def fill(
        self, code: str, owner: str, now_ms: int, fill: Fill, retention_ms: int, waits_kept: int
    ) -> tuple[str, list[str]] | None:
        """Add a backfill's tickets to its match, confirmed. None if the lease is lost, else
        ('ok', [outbox id]), ('closed', []) or ('gone', ids of tickets no longer searching)."""
        keys = PartitionKeys(code)
        # A ticket's `k` is its key's place among all the call's keys (from 1).
        ticket_keys = tuple(keys.ticket(ticket_id) for ticket_id, _ in fill.tickets)
        tickets = [
            {"k": BackfillFill.first_ticket + i, "id": ticket_id, "sid": sid}
            for i, (ticket_id, sid) in enumerate(fill.tickets)
        ]
        plan = {
            "match": fill.match_id,
            "id": fill.backfill_id,
            "data": fill.record.decode(),
            "open": "" if fill.open is None else fill.open.decode(),
            "push": fill.push.decode(),
            "keep": waits_kept,
            "retention": retention_ms,
            "t": tickets,
        }
        # Not idempotent: run again, it would find its own tickets matched.
        request = BackfillFill(
            keys.lease,
            keys.stream,
            keys.waiting,
            keys.stats,
            keys.waits,
            keys.outbox,
            keys.match(fill.match_id),
            keys.backfills,
            ticket_keys,
            owner,
            GROUP,
            now_ms,
            orjson.dumps(plan),
        )
        filled = Filled.decode(await self._store.run(request, confirm=True))
        return None if filled is None else (filled.status, filled.ids)

    async def takeover(
        self, code: str, owner: str, count: int, start: str
    ) -> tuple[str, list[Entry]] | None:
        """Claim entries read but never acknowledged by earlier owners, from `start` on."""
        keys = PartitionKeys(code)
        request = Takeover(keys.lease, keys.stream, owner, GROUP, count, start)
        taken = TakenOver.decode(await self._store.run(request))
        return None if taken is None else (taken.next_start_id, taken.entries)

    async def ack(self, code: str, owner: str, entry_ids: Sequence[str]) -> bool:
        keys = PartitionKeys(code)
        request = Ack(keys.lease, keys.stream, owner, GROUP, tuple(entry_ids))
        return LeaseHeld.decode(await self._store.run(request, idempotent=True)).held

    async def settle(
        self,
        code: str,
        owner: str,
        now_ms: int,
        commits: Sequence[Commit],
        expiries: Sequence[Expiry],
        match_ttl_ms: int,
        retention_ms: int,
        waits_kept: int,
        allocator_failures: int = 0,
    ) -> tuple[list[str | list[str]], list[str]] | None:
        """Commit matches and expire tickets in one function call; None if the lease is lost.

        Per commit then per expiry: '' committed, 'x' expired, else the ids of tickets
        that were no longer searching ([] for a ticket not yet due to expire). Returns
        only once replicas confirm the commit (WAIT), so its pushes may go out; raises
        `Unconfirmed` when they did not, and the pushes wait in the outbox.
        """
        keys = PartitionKeys(code)
        # A key's `k` in the plan is its place among all the call's keys (from 1).
        plan_keys: list[str] = []

        def index(key: str) -> int:
            plan_keys.append(key)
            return Settle.first_plan_key + len(plan_keys) - 1

        plan: dict[str, Any] = {
            "m": [
                {
                    "k": index(keys.match(c.match_id)),
                    "id": c.match_id,
                    "gap": c.gap,
                    "p": c.payload.decode(),
                    "t": [{"k": index(keys.ticket(t)), "id": t, "sid": s} for t, s in c.tickets],
                }
                for c in commits
            ],
            "e": [
                {
                    "k": index(keys.ticket(e.ticket_id)),
                    "id": e.ticket_id,
                    "sid": e.entry_id,
                    "max_ms": e.max_wait_ms,
                    "p": e.payload.decode(),
                }
                for e in expiries
            ],
            "ttl": match_ttl_ms,
            "retention": retention_ms,
            "keep": waits_kept,
            "af": allocator_failures,
        }
        # Not idempotent: run again, it would find its own tickets matched and forget them.
        request = Settle(
            keys.lease,
            keys.stream,
            keys.waiting,
            keys.stats,
            keys.waits,
            keys.outbox,
            tuple(plan_keys),
            owner,
            GROUP,
            now_ms,
            orjson.dumps(plan),
        )
        settled = Settled.decode(await self._store.run(request, confirm=True))
        return None if settled is None else (settled.results, settled.outbox_ids)

    async def forget_delivered(self, code: str, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            outbox = PartitionKeys(code).outbox
            await self._store.command(
                outbox, "XDEL", outbox, *entry_ids, idempotent=True, confirm=False
            )

    async def outbox(
        self, code: str, owner: str, lease_ms: int, count: int
    ) -> list[tuple[str, str, bytes]] | None:
        """Undelivered pushes: (entry id, 'f' found or 'e' expired, payload), once
        replicas confirm the commits that queued them; None if the lease is lost."""
        keys = PartitionKeys(code)
        request = Outbox(keys.lease, keys.outbox, owner, lease_ms, count)
        pushes = Pushes.decode(await self._store.run(request, idempotent=True, confirm=True))
        return None if pushes is None else pushes.pushes
