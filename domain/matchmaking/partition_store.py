"""The Valkey side of the workers: leases, partition streams, commits and the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from domain.matchmaking.models import QueueConfig
from domain.matchmaking.store import (
    GROUP,
    PARTITIONS_KEY,
    QUEUES_KEY,
    WORKERS_KEY,
    MatchmakingStore,
    PartitionKeys,
    text,
)


@dataclass(frozen=True, slots=True)
class Entry:
    """A stream entry: a ticket that started searching ('j') or was cancelled ('c')."""

    entry_id: str
    kind: str
    ticket_id: str
    data: bytes | None = None
    # For a cancel, the entry id of the ticket's own join entry.
    join_id: str | None = None


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
class OpenBackfill:
    """A match of the partition with a backfill open: its record and the backfill."""

    match_id: str
    record: dict[str, Any]
    backfill: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Fill:
    """Tickets a backfill adds to its match, with the record and backfill they leave."""

    match_id: str
    backfill_id: str
    record: bytes
    open: bytes | None  # the backfill's slots left; None when it is done
    push: bytes
    tickets: Sequence[tuple[str, str]]  # (ticket id, its stream entry id)


@dataclass(frozen=True, slots=True)
class Registry:
    live_workers: int
    partitions: dict[str, tuple[str, str]]
    queues: dict[str, QueueConfig]


def _pairs(flat: Sequence[Any]) -> list[tuple[Any, Any]]:
    """A function's HGETALL reply, field/value pairs in a flat list, as pairs."""
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def _entries(raw: Sequence[Any]) -> list[Entry]:
    out: list[Entry] = []
    for entry_id, flat in raw:
        if not flat:  # an entry deleted while pending shows up without fields
            continue
        fields = {text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}
        out.append(
            Entry(
                entry_id=text(entry_id),
                kind=text(fields["k"]),
                ticket_id=text(fields["t"]),
                data=fields.get("d"),
                join_id=text(fields["s"]) if fields.get("s") else None,
            )
        )
    return out


class PartitionStore:
    def __init__(self, store: MatchmakingStore) -> None:
        self._store = store

    async def heartbeat(self, worker_id: str, now_ms: int, stale_ms: int) -> Registry:
        """Say this worker is alive; read the live workers, partitions and queues."""
        # No WAIT: a heartbeat lost in a failover is repeated next tick.
        live, partitions, queues = await self._store.run(
            "heartbeat",
            [WORKERS_KEY, PARTITIONS_KEY, QUEUES_KEY],
            [worker_id, now_ms, stale_ms],
            idempotent=True,
        )
        return Registry(
            live_workers=int(live),
            partitions={
                text(code): (value["queue"], value["partition"])
                for code, value in ((c, orjson.loads(v)) for c, v in _pairs(partitions))
            },
            queues={text(k): QueueConfig.from_dict(orjson.loads(v)) for k, v in _pairs(queues)},
        )

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
        await self._store.run(
            "lease_release", [PartitionKeys(code).lease], [owner], idempotent=True
        )

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
        raw = await self._store.run(
            "read",
            [keys.lease, keys.stream, keys.outbox, keys.backfills, keys.match("")],
            [owner, lease_ms, GROUP, count, backfills, *done_outbox],
        )
        if raw is None:
            return None
        open_backfills = [
            OpenBackfill(text(m), orjson.loads(data), orjson.loads(bf)) for m, data, bf in raw[1]
        ]
        return _entries(raw[0]), open_backfills

    async def fill(
        self, code: str, owner: str, now_ms: int, fill: Fill, retention_ms: int, waits_kept: int
    ) -> tuple[str, list[str]] | None:
        """Add a backfill's tickets to its match, confirmed. None if the lease is lost, else
        ('ok', [outbox id]), ('closed', []) or ('gone', ids of tickets no longer searching)."""
        keys = PartitionKeys(code)
        all_keys = [
            keys.lease,
            keys.stream,
            keys.waiting,
            keys.stats,
            keys.waits,
            keys.outbox,
            keys.match(fill.match_id),
            keys.backfills,
        ]
        tickets = []
        for ticket_id, sid in fill.tickets:
            all_keys.append(keys.ticket(ticket_id))
            tickets.append({"k": len(all_keys), "id": ticket_id, "sid": sid})
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
        reply = await self._store.run(
            "backfill_fill", all_keys, [owner, GROUP, now_ms, orjson.dumps(plan)], confirm=True
        )
        if reply is None:
            return None
        return text(reply[0]), [text(x) for x in reply[1:]]

    async def takeover(
        self, code: str, owner: str, count: int, start: str
    ) -> tuple[str, list[Entry]] | None:
        """Claim entries read but never acknowledged by earlier owners, from `start` on."""
        keys = PartitionKeys(code)
        raw = await self._store.run(
            "takeover", [keys.lease, keys.stream], [owner, GROUP, count, start]
        )
        if raw is None:
            return None
        return text(raw[0]), _entries(raw[1])

    async def ack(self, code: str, owner: str, entry_ids: Sequence[str]) -> bool:
        keys = PartitionKeys(code)
        result = await self._store.run(
            "ack", [keys.lease, keys.stream], [owner, GROUP, *entry_ids], idempotent=True
        )
        return result is not None

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
        all_keys = [keys.lease, keys.stream, keys.waiting, keys.stats, keys.waits, keys.outbox]

        def index(key: str) -> int:
            all_keys.append(key)
            return len(all_keys)

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
        reply = await self._store.run(
            "settle", all_keys, [owner, GROUP, now_ms, orjson.dumps(plan)], confirm=True
        )
        if reply is None:
            return None
        results: list[str | list[str]] = [
            text(r) if isinstance(r, bytes) else [text(x) for x in r] for r in reply[0]
        ]
        return results, [text(x) for x in reply[1]]

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
        raw = await self._store.run(
            "outbox",
            [keys.lease, keys.outbox],
            [owner, lease_ms, count],
            idempotent=True,
            confirm=True,
        )
        if raw is None:
            return None
        out: list[tuple[str, str, bytes]] = []
        for entry_id, flat in raw:
            fields = {text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}
            out.append((text(entry_id), text(fields["k"]), fields["d"]))
        return out
