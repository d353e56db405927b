"""The Valkey side of queues, tickets and players' live-ticket pointers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from domain.matchmaking.functions import (
    Applied,
    Cancel,
    Cancelled,
    ClaimPlayer,
    Enqueue,
    Holder,
    ReleasePlayer,
)
from domain.matchmaking.models import QueueConfig, Ticket, TicketProperties, TicketState
from domain.matchmaking.ratings import Rating
from domain.matchmaking.store import (
    PARTITIONS_KEY,
    QUEUES_KEY,
    WORKERS_KEY,
    MatchmakingStore,
    PartitionKeys,
    code_of,
    player_history_key,
    player_ticket_key,
)
from domain.storage.resp import text
from domain.storage.shard_calls import Call


@dataclass(frozen=True, slots=True)
class PartitionStats:
    code: str
    waiting: int
    oldest_created_s: float | None
    matches: int
    gap_sum: float
    cancelled: int
    expired: int
    waits_s: list[float]
    allocator_failures: int = 0
    backfilled: int = 0


def encode_ticket(ticket: Ticket) -> bytes:
    """The snapshot a ticket carries into its hash and its stream entry."""
    return orjson.dumps(
        {
            "id": ticket.ticket_id,
            "queue": ticket.queue,
            "partition": ticket.partition,
            "players": list(ticket.players),
            "ratings": [[r.mu, r.sigma] for r in ticket.ratings],
            "created": round(ticket.created_at * 1000),
            "region": ticket.properties.region,
            "latency": dict(ticket.properties.latency_ms),
            "values": dict(ticket.properties.values),
            "carried": dict(ticket.properties.carried),
        }
    )


def decode_ticket(data: bytes | str, state: str, match_id: str | None = None) -> Ticket:
    raw = orjson.loads(data)
    return Ticket(
        ticket_id=raw["id"],
        queue=raw["queue"],
        partition=raw["partition"],
        players=tuple(raw["players"]),
        ratings=tuple(Rating(mu, sigma) for mu, sigma in raw["ratings"]),
        created_at=raw["created"] / 1000.0,
        state=TicketState(state),
        properties=TicketProperties(
            region=raw["region"],
            latency_ms=raw["latency"],
            values=raw.get("values", {}),
            carried=raw.get("carried", {}),
        ),
        match_id=match_id,
    )


def _first_score(reply: Sequence[Any]) -> float:
    """The score of a ZRANGE ... WITHSCORES reply's first member: valkey-py pairs the
    reply as (member, score) where it knows the option was given, else it stays flat."""
    first = reply[0]
    return float(first[1] if isinstance(first, list | tuple) else reply[1])


class TicketStore:
    def __init__(self, store: MatchmakingStore) -> None:
        self._store = store

    async def create_queue(self, queue: QueueConfig) -> bool:
        """False if a queue of that name exists already; True once replicas have it."""
        data = orjson.dumps(queue.to_dict())
        # Not idempotent: a second HSETNX after an unknown outcome would say "exists".
        created = await self._store.command(
            QUEUES_KEY, "HSETNX", QUEUES_KEY, queue.name, data, idempotent=False, confirm=True
        )
        return bool(created)

    async def queue(self, name: str) -> QueueConfig | None:
        raw = await self._store.read_one(QUEUES_KEY, "HGET", QUEUES_KEY, name)
        return None if raw is None else QueueConfig.from_dict(orjson.loads(raw))

    async def queues(self) -> dict[str, QueueConfig]:
        raw = await self._store.read_one(QUEUES_KEY, "HGETALL", QUEUES_KEY)
        return {text(k): QueueConfig.from_dict(orjson.loads(v)) for k, v in raw.items()}

    async def register_partition(self, code: str, queue: str, partition: str) -> None:
        """Make the partition known to workers, before a join is acknowledged in it."""
        data = orjson.dumps({"queue": queue, "partition": partition})
        # A code always maps to the same value, so HSET is idempotent, and it always
        # writes: its WAIT also covers a registration another process made.
        await self._store.command(
            PARTITIONS_KEY, "HSET", PARTITIONS_KEY, code, data, idempotent=True, confirm=True
        )

    async def partitions(self) -> dict[str, tuple[str, str]]:
        """Every partition ever used: code -> (queue, partition)."""
        raw = await self._store.read_one(PARTITIONS_KEY, "HGETALL", PARTITIONS_KEY)
        out: dict[str, tuple[str, str]] = {}
        for code, data in raw.items():
            value = orjson.loads(data)
            out[text(code)] = (value["queue"], value["partition"])
        return out

    async def claim_player(
        self, player_id: str, claim: str, ttl_ms: int, history_ms: int, replaceable: str = ""
    ) -> str | None:
        """Point the player at a ticket being made; on failure, the claim that holds them.

        A claim is '<ticket id> <created ms>': it counts as live while its ticket searches,
        or, before the ticket exists, while it is younger than the claim limit. The ticket
        is noted in the player's history (for erasure), which lives `history_ms`.
        """
        # Confirmed: a claim lost in a failover would let the player join twice.
        request = ClaimPlayer(
            player_ticket_key(player_id),
            player_history_key(player_id),
            claim,
            ttl_ms,
            replaceable,
            history_ms,
        )
        return Holder.decode(await self._store.run(request, idempotent=True, confirm=True)).claim

    async def player_claim(self, player_id: str) -> str | None:
        """The claim ('<ticket id> <created ms>') the player's ticket pointer holds."""
        key = player_ticket_key(player_id)
        raw = await self._store.read_one(key, "GET", key)
        return None if raw is None else text(raw)

    async def release_player(self, player_id: str, claim: str) -> None:
        request = ReleasePlayer(player_ticket_key(player_id), claim)
        Applied.decode(await self._store.run(request, idempotent=True))

    async def enqueue(self, ticket: Ticket, now_ms: int, claim_limit_ms: int, ttl_ms: int) -> bool:
        """Store the ticket searching and put it on its partition's stream, confirmed."""
        keys = PartitionKeys(ticket.ticket_id.split(".", 1)[0])
        request = Enqueue(
            keys.ticket(ticket.ticket_id),
            keys.stream,
            keys.waiting,
            ticket.ticket_id,
            round(ticket.created_at * 1000),
            now_ms,
            claim_limit_ms,
            encode_ticket(ticket),
            ttl_ms,
        )
        stored = await self._store.run(request, idempotent=True, confirm=True)
        return Applied.decode(stored).applied

    async def cancel(self, ticket_id: str, player_id: str) -> str:
        """'missing', 'forbidden', 'cancelled', or the state that made it too late."""
        code = code_of(ticket_id)
        if code is None:
            return "missing"
        keys = PartitionKeys(code)
        request = Cancel(
            keys.ticket(ticket_id), keys.stream, keys.waiting, keys.stats, ticket_id, player_id
        )
        return Cancelled.decode(await self._store.run(request, idempotent=True, confirm=True)).state

    async def ticket(self, ticket_id: str) -> Ticket | None:
        code = code_of(ticket_id)
        if code is None:
            return None
        key = PartitionKeys(code).ticket(ticket_id)
        raw = await self._store.read_one(key, "HMGET", key, "state", "data", "match")
        if raw[0] is None:
            return None
        return decode_ticket(raw[1], text(raw[0]), text(raw[2]) if raw[2] else None)

    async def states(self, ticket_ids: Sequence[str]) -> list[tuple[str, int] | None]:
        """(state, created ms) of each ticket, None where it does not exist."""
        keys = [PartitionKeys(code_of(t) or "0000000000").ticket(t) for t in ticket_ids]
        rows = await self._store.read([Call(k, ("HMGET", k, "state", "created")) for k in keys])
        return [None if row[0] is None else (text(row[0]), int(row[1])) for row in rows]

    async def partition_stats(self, codes: Sequence[str]) -> list[PartitionStats]:
        """Waiting count, oldest ticket, counters and recent waits of each partition."""
        if not codes:
            return []
        calls: list[Call] = []
        for code in codes:
            keys = PartitionKeys(code)
            calls += [
                Call(keys.waiting, ("ZCARD", keys.waiting)),
                Call(keys.waiting, ("ZRANGE", keys.waiting, 0, 0, "WITHSCORES")),
                Call(keys.stats, ("HGETALL", keys.stats)),
                Call(keys.waits, ("LRANGE", keys.waits, 0, -1)),
            ]
        rows = await self._store.read(calls)
        out: list[PartitionStats] = []
        for i, code in enumerate(codes):
            waiting, oldest, counters, waits = rows[4 * i : 4 * i + 4]
            fields = {text(k): float(v) for k, v in counters.items()}
            out.append(
                PartitionStats(
                    code=code,
                    waiting=int(waiting),
                    oldest_created_s=_first_score(oldest) / 1000.0 if oldest else None,
                    matches=int(fields.get("matches", 0)),
                    gap_sum=fields.get("gap_sum", 0.0),
                    cancelled=int(fields.get("cancelled", 0)),
                    expired=int(fields.get("expired", 0)),
                    waits_s=[int(w) / 1000.0 for w in waits],
                    allocator_failures=int(fields.get("alloc_failed", 0)),
                    backfilled=int(fields.get("backfilled", 0)),
                )
            )
        return out

    async def last_worker_heartbeat_ms(self) -> int | None:
        """When the most recent heartbeat of any matchmaking worker was (unix ms)."""
        latest = await self._store.read_one(
            WORKERS_KEY, "ZRANGE", WORKERS_KEY, -1, -1, "WITHSCORES"
        )
        if not latest:
            return None
        return int(_first_score(latest))

    async def allocator_failures(self) -> dict[str, int]:
        """Allocator failures so far, per queue (queues with partitions only)."""
        partitions = await self.partitions()
        if not partitions:
            return {}
        codes = list(partitions)
        keys = [PartitionKeys(code).stats for code in codes]
        rows = await self._store.read([Call(k, ("HGET", k, "alloc_failed")) for k in keys])
        out: dict[str, int] = {}
        for code, value in zip(codes, rows, strict=True):
            queue = partitions[code][0]
            out[queue] = out.get(queue, 0) + int(value or 0)
        return out
