"""The matchmaking worker: owns queue partitions through leases and forms their matches.

Each tick a worker says it is alive, takes or gives back partitions towards its fair
share (partitions / live workers), then for each partition it owns: reads the new stream
entries into an in-memory pool, expires tickets past the queue's maximum wait, forms
matches with the pure rules, commits them in one function call that also acknowledges
the entries, and delivers the pushes the commit queued in the partition's outbox.
A partition taken over from a dead worker first gets the entries that worker read and
never acknowledged, and the pushes it queued and never delivered.

A push goes out only once replicas confirmed the commit that queued it (WAIT): a commit
left unconfirmed fails the tick, and the partition is rebuilt next tick as after a
takeover, which delivers the outbox once a WAIT confirms it (docs/durability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.clock import Clock
from domain.errors import Unavailable
from domain.matchmaking.delivery import Delivery
from domain.matchmaking.functions import Entry, OpenBackfill, Registry
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import QueueConfig
from domain.matchmaking.partition_store import PartitionStore
from domain.matchmaking.ports import MatchNotifier, MatchObserver, ServerAllocator
from domain.matchmaking.rating_store import RatingStore
from domain.matchmaking.rules import Candidate
from domain.matchmaking.settle import settle_partition
from domain.matchmaking.store import MatchmakingStore
from domain.matchmaking.ticket_store import decode_ticket

log = logging.getLogger(__name__)

# Calls of `mm_takeover` per partition: each claims up to `read_count` entries.
MAX_TAKEOVER_CALLS = 100


@dataclass
class PartitionState:
    """What the owning worker holds in memory for one partition."""

    code: str
    queue: str
    pool: dict[str, Candidate] = field(default_factory=dict)
    entry_of: dict[str, str] = field(default_factory=dict)  # ticket id -> join entry id
    taken_over: bool = False
    done_outbox: list[str] = field(default_factory=list)
    # The backfills open in this partition, as read at the start of this tick.
    backfills: list[OpenBackfill] = field(default_factory=list)
    # After a failed allocation no match is formed before this time (backing off).
    allocate_after: float = 0.0
    failed_allocations_in_row: int = 0


@dataclass(frozen=True, slots=True)
class TickReport:
    partitions: int = 0
    matches: int = 0
    expired: int = 0
    waiting: int = 0
    allocator_failures: int = 0


class MatchmakingWorker:
    def __init__(
        self,
        store: MatchmakingStore,
        clock: Clock,
        notifier: MatchNotifier,
        worker_id: str,
        tick_s: float | None = None,
        limits: MatchmakingLimits | None = None,
        *,
        allocator: ServerAllocator | None = None,
        observer: MatchObserver | None = None,
    ) -> None:
        self._clock = clock
        self._observer = observer
        self._allocator = allocator
        self.worker_id = worker_id
        self._limits = limits or MatchmakingLimits()
        self._tick_s = self._limits.tick_s if tick_s is None else tick_s
        self._store = PartitionStore(store)
        self._delivery = Delivery(RatingStore(store), notifier, clock, self._limits)
        self._owned: dict[str, PartitionState] = {}

    @property
    def owned(self) -> frozenset[str]:
        """Codes of the partitions this worker holds the lease of."""
        return frozenset(self._owned)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set, then hand every partition back."""
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self.run_once()
                except Unavailable as exc:  # a failover, no replica, a full node: expected
                    log.warning("matchmaking tick failed: %s", exc)
                except Exception:  # a bug: log it whole, and try again next tick
                    log.exception("matchmaking tick failed")
                pause = max(0.0, self._tick_s - (time.monotonic() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
        finally:
            await self.release_all()

    async def release_all(self) -> None:
        owned, self._owned = list(self._owned.values()), {}
        for state in owned:
            with contextlib.suppress(Exception):
                await self._release(state)
        with contextlib.suppress(Exception):
            await self._store.leave(self.worker_id)

    async def run_once(self) -> TickReport:
        limits = self._limits
        registry = await self._store.heartbeat(
            self.worker_id, self._now_ms(), round(limits.worker_stale_s * 1000)
        )
        await self._balance(registry)
        reports = await asyncio.gather(
            *(self._tick(state, registry.queues) for state in list(self._owned.values()))
        )
        return TickReport(
            partitions=len(self._owned),
            matches=sum(r.matches for r in reports),
            expired=sum(r.expired for r in reports),
            waiting=sum(r.waiting for r in reports),
            allocator_failures=sum(r.allocator_failures for r in reports),
        )

    async def _balance(self, registry: Registry) -> None:
        """Move towards owning ceil(partitions / live workers) partitions."""
        lease_ms = round(self._limits.lease_s * 1000)
        share = math.ceil(len(registry.partitions) / max(1, registry.live_workers))
        if len(self._owned) > share and registry.live_workers > 1:
            # Give back one per tick, so a joining worker gets work without a stampede.
            await self._release(self._owned.pop(sorted(self._owned)[-1]))
            return
        free = [c for c in registry.partitions if c not in self._owned]
        wanted = share - len(self._owned)
        if wanted <= 0 or not free:
            return
        # Each worker tries the partitions in its own order, so they rarely collide.
        free.sort(key=lambda c: hashlib.blake2b(f"{self.worker_id}/{c}".encode()).digest())
        tries = free[: wanted * 2]
        won = await asyncio.gather(
            *(self._store.acquire(c, self.worker_id, lease_ms) for c in tries)
        )
        for code, ok in zip(tries, won, strict=True):
            if ok and len(self._owned) < share + 1:
                self._owned[code] = PartitionState(code, registry.partitions[code][0])
            elif ok:
                await self._store.release(code, self.worker_id)

    async def _release(self, state: PartitionState) -> None:
        # Delivered pushes go first, or the next owner would send them again.
        await self._store.forget_delivered(state.code, state.done_outbox)
        await self._store.release(state.code, self.worker_id)

    def _now_ms(self) -> int:
        return round(self._clock.now() * 1000)

    def _drop(self, state: PartitionState) -> TickReport:
        log.info("lost the lease of partition %s", state.code)
        self._owned.pop(state.code, None)
        return TickReport()

    async def _tick(self, state: PartitionState, queues: dict[str, QueueConfig]) -> TickReport:
        queue = queues.get(state.queue)
        if queue is None:
            return TickReport()
        try:
            return await self._work(state, queue)
        except Exception as exc:
            # The outcome of the last call is unknown (a commit may have happened, or not
            # be confirmed yet): rebuild this partition from the stream and the outbox, as
            # after a takeover; its pushes go out once a WAIT confirms them.
            if isinstance(exc, Unavailable):  # a failover or a missing replica: expected
                log.warning("matchmaking tick of partition %s failed: %s", state.code, exc)
            else:
                log.exception("matchmaking tick of partition %s failed", state.code)
            state.pool.clear()
            state.entry_of.clear()
            state.taken_over = False
            return TickReport()

    async def _take_over(self, state: PartitionState, queue: QueueConfig) -> list[str] | None:
        """Claim what earlier owners read and left unacknowledged; deliver their outbox."""
        limits, me = self._limits, self.worker_id
        acks: list[str] = []
        start = "0-0"
        for _ in range(MAX_TAKEOVER_CALLS):
            claimed = await self._store.takeover(state.code, me, limits.read_count, start)
            if claimed is None:
                return None
            start, entries = claimed
            acks += self._apply(state, queue, entries)
            if start == "0-0":
                break
        lease_ms = round(limits.lease_s * 1000)
        pending = await self._store.outbox(state.code, me, lease_ms, limits.read_count)
        if pending is None:
            return None
        delivered = set(state.done_outbox)
        leftovers = [item for item in pending if item[0] not in delivered]
        await self._delivery.deliver([(kind, payload) for _, kind, payload in leftovers])
        state.done_outbox += [entry_id for entry_id, _, _ in leftovers]
        state.taken_over = True
        return acks

    async def _work(self, state: PartitionState, queue: QueueConfig) -> TickReport:
        limits, me = self._limits, self.worker_id
        acks: list[str] = []
        if not state.taken_over:
            claimed = await self._take_over(state, queue)
            if claimed is None:
                return self._drop(state)
            acks += claimed
        lease_ms = round(limits.lease_s * 1000)
        read = await self._store.read(
            state.code,
            me,
            lease_ms,
            limits.read_count,
            state.done_outbox,
            limits.backfills_per_tick,
        )
        if read is None:
            return self._drop(state)
        fresh, state.backfills = read
        state.done_outbox = []
        acks += self._apply(state, queue, fresh)
        if acks and not await self._store.ack(state.code, me, acks):
            return self._drop(state)
        outcome = await settle_partition(
            self._store, state, queue, me, self._clock.now(), limits, self._allocator
        )
        if outcome is None:
            return self._drop(state)
        if self._observer is not None and outcome.matches:
            self._observer.matches_made(queue.name, outcome.matches, outcome.waits_s)
        await self._delivery.deliver(outcome.deliveries)
        state.done_outbox += outcome.outbox_ids
        return TickReport(
            1, outcome.matches, outcome.expired, len(state.pool), outcome.allocator_failures
        )

    @staticmethod
    def _apply(state: PartitionState, queue: QueueConfig, entries: Sequence[Entry]) -> list[str]:
        """Fold stream entries into the pool; returns entries now safe to acknowledge."""
        acks: list[str] = []
        for entry in entries:
            if entry.kind == "j" and entry.data is not None:
                ticket = decode_ticket(entry.data, "searching")
                state.pool[ticket.ticket_id] = Candidate.from_ticket(ticket, queue)
                state.entry_of[ticket.ticket_id] = entry.entry_id
            elif entry.kind == "c":
                state.pool.pop(entry.ticket_id, None)
                join = state.entry_of.pop(entry.ticket_id, None) or entry.join_id
                acks += [entry.entry_id] + ([join] if join else [])
            else:
                acks.append(entry.entry_id)
        return acks
