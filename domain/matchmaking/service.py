"""Matchmaking as the gateway and the admin API see it: queues, tickets, results."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from typing import Any

from domain.clock import Clock
from domain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MatchNotFound,
    QueueNotFound,
    TicketNotFound,
    Unavailable,
    Unconfirmed,
)
from domain.ids import require_id
from domain.matchmaking.history_store import HistoryStore
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.match_store import MatchStore
from domain.matchmaking.models import (
    DEFAULT_QUEUES,
    QueueConfig,
    Ticket,
    TicketProperties,
    parse_backfill_open,
)
from domain.matchmaking.models import TicketState as State
from domain.matchmaking.ports import LiveSessions, PartyRoster, RankedBoardSink
from domain.matchmaking.ratings import Rating
from domain.matchmaking.results import Results, parse_ranks
from domain.matchmaking.stats import queue_stats
from domain.matchmaking.store import MatchmakingStore, partition_code
from domain.matchmaking.ticket_store import TicketStore

REGISTRATION_REFRESH_S = 60.0


class MatchmakingService:
    def __init__(
        self,
        store: MatchmakingStore,
        clock: Clock,
        sessions: LiveSessions | None = None,
        boards: RankedBoardSink | None = None,
        queues: Sequence[QueueConfig] = DEFAULT_QUEUES,
        limits: MatchmakingLimits | None = None,
        *,
        parties: PartyRoster | None = None,
    ) -> None:
        self._clock = clock
        self._sessions = sessions
        self._parties = parties
        self._limits = limits or MatchmakingLimits()
        self._store = store
        self._tickets = TicketStore(store)
        self._boards = boards
        self._results = Results(store, boards, self._limits)
        self._matches = MatchStore(store)
        self._history = HistoryStore(store)
        self._initial_queues = tuple(queues)
        # Queues never change once created. Partitions are registered again now and then,
        # in case the registry lost a write (a failover) while this process remembered it.
        self._queues: dict[str, QueueConfig] = {}
        self._registered: dict[str, float] = {}

    async def ensure_ready(self) -> None:
        """Load the function library and create the configured queues that do not exist
        yet."""
        await self._store.load_functions()
        for queue in self._initial_queues:
            # Read first: an existing queue needs no write, so no replica to confirm it.
            if await self._tickets.queue(queue.name) is None:
                # A configured queue is held to what the admin API asks of one: a start-up
                # that refuses is plainer than results whose ratings never reach a board.
                await self._check_ranked_board(queue)
                await self._tickets.create_queue(queue)

    async def _check_ranked_board(self, queue: QueueConfig) -> None:
        # A ranked board must exist and keep the latest ordinal (`set`) before a queue
        # feeds it: a result is committed before the feed runs, so the feed must not fail.
        if queue.ranked_board is not None and self._boards is not None:
            await self._boards.check(queue.ranked_board)

    async def create_queue(self, queue: QueueConfig) -> None:
        await self._check_ranked_board(queue)
        if not await self._tickets.create_queue(queue):
            raise Conflict(f"queue {queue.name} exists already")
        self._queues[queue.name] = queue

    async def queue(self, name: object) -> QueueConfig:
        name = require_id(name, "queue")
        found = self._queues.get(name) or await self._tickets.queue(name)
        if found is None:
            raise QueueNotFound(f"no queue {name}")
        self._queues[name] = found
        return found

    async def list_queue_stats(self) -> list[dict[str, Any]]:
        """Per queue: waiting tickets, oldest wait, matches made, wait p50/p95, fairness."""
        return await queue_stats(self._tickets, self._clock.now())

    async def worker_heartbeat_age(self) -> float | None:
        """Seconds since any matchmaking worker last beat its heartbeat; None if none ever
        did (or the last one left)."""
        latest_ms = await self._tickets.last_worker_heartbeat_ms()
        if latest_ms is None:
            return None
        return max(0.0, self._clock.now() - latest_ms / 1000)

    async def allocator_failures(self) -> dict[str, int]:
        """Failed or timed-out allocator calls so far, per queue."""
        return await self._tickets.allocator_failures()

    async def join(
        self,
        queue: object,
        player_id: str,
        party_id: object = None,
        properties: object = None,
    ) -> str:
        """Put the caller (and the party they lead) in the queue; returns the ticket id.

        The party is read once, here: the ticket keeps the members it had at the join.
        """
        require_id(player_id, "player_id")
        config = await self.queue(queue)
        props = TicketProperties.parse(properties, config)
        members = await self._members(player_id, party_id, config)
        if self._sessions is not None:
            live = await self._sessions.live_players(members)
            offline = [m for m in members if m not in live]
            if offline:
                raise Conflict(f"no live session for {', '.join(offline)}")
        partition = config.partition_of(props.region, props.values)
        code = await self._partition(config.name, partition)
        ticket_id = f"{code}.{secrets.token_hex(8)}"
        created = self._clock.now()
        claim = f"{ticket_id} {round(created * 1000)}"
        ttl_ms = round((config.max_wait_s + self._limits.ticket_retention_s) * 1000)
        # The members' claims and the ratings read go together: one round trip, not three.
        ratings, *claims = await asyncio.gather(
            self._results.store.ratings(members),
            *(self._claim(m, claim, ttl_ms) for m in members),
            return_exceptions=True,
        )
        try:
            for outcome in (ratings, *claims):
                if isinstance(outcome, BaseException):
                    raise outcome
            assert isinstance(ratings, list)
            ticket = Ticket(
                ticket_id=ticket_id,
                queue=config.name,
                partition=partition,
                players=members,
                ratings=tuple(ratings),
                created_at=created,
                state=State.SEARCHING,
                properties=props,
            )
        except BaseException:
            await self._release(members, claims, claim)
            raise
        now_ms = round(self._clock.now() * 1000)
        limit_ms = round(self._limits.claim_limit_s * 1000)
        try:
            stored = await self._tickets.enqueue(ticket, now_ms, limit_ms, ttl_ms)
        except BaseException as exc:
            # A ticket that may be stored and searching keeps its claims; if it is not
            # stored, they stop counting after `claim_limit_s`, as after a crash.
            if not isinstance(exc, Unconfirmed | asyncio.CancelledError):
                await self._release(members, claims, claim)
            raise
        if not stored:
            await self._release(members, claims, claim)
            raise Unavailable("the join took too long; try again")
        return ticket_id

    async def _release(self, members: Sequence[str], claims: Sequence[object], claim: str) -> None:
        """Release the claims this join made; a failure leaves them to `claim_limit_s`."""
        claimed = [m for m, c in zip(members, claims, strict=True) if c is None]
        await asyncio.gather(
            *(self._tickets.release_player(m, claim) for m in claimed), return_exceptions=True
        )

    async def _members(
        self, player_id: str, party_id: object, config: QueueConfig
    ) -> tuple[str, ...]:
        if party_id is None:
            return (player_id,)
        if self._parties is None:
            raise BadRequest("this server takes no parties")
        members = await self._parties.members_led_by(party_id, player_id)
        if len(members) > 1 and not config.parties:
            raise BadRequest(f"queue {config.name} takes no parties")
        if len(members) > config.team_size:
            raise BadRequest(f"a party in queue {config.name} has at most {config.team_size}")
        return members

    async def _partition(self, queue: str, partition: str) -> str:
        code = partition_code(queue, partition)
        now = self._clock.now()
        if self._registered.get(code, 0.0) < now:
            await self._tickets.register_partition(code, queue, partition)
            self._registered[code] = now + REGISTRATION_REFRESH_S
        return code

    async def _claim(self, player_id: str, claim: str, ttl_ms: int) -> None:
        """Point the player at the ticket being made, unless a live ticket holds them.

        Each member's pointer is in its own slot, so a join claims them one by one and
        stores its ticket only after. Until then its claims count as live for at most
        `claim_limit_s`, and the ticket is refused after that: two joins never both win.
        """
        history_ms = round(self._limits.result_ttl_s * 1000)
        holder = await self._tickets.claim_player(player_id, claim, ttl_ms, history_ms)
        if holder is None:
            return
        if await self._is_live(holder):
            raise Conflict(f"{player_id} is already in a ticket")
        # The holder is finished: take the pointer unless yet another join beat us to it.
        if (
            await self._tickets.claim_player(player_id, claim, ttl_ms, history_ms, holder)
            is not None
        ):
            raise Conflict(f"{player_id} is already in a ticket")

    async def _is_live(self, claim: str) -> bool:
        ticket_id, _, created = claim.partition(" ")
        [found] = await self._tickets.states([ticket_id])
        if found is not None:
            return found[0] == State.SEARCHING
        age_ms = self._clock.now() * 1000 - int(created or 0)
        return age_ms <= self._limits.claim_limit_s * 1000

    async def cancel(self, player_id: str, ticket_id: object) -> None:
        """Cancel a searching ticket; only a member may, and a matched ticket cannot be."""
        ticket_id = require_id(ticket_id, "ticket")
        outcome = await self._tickets.cancel(ticket_id, player_id)
        if outcome == "missing":
            raise TicketNotFound(f"no ticket {ticket_id}")
        if outcome == "forbidden":
            raise Forbidden("only a member of the ticket may cancel it")
        if outcome != State.CANCELLED:
            raise Conflict(f"the ticket is {outcome} already")

    async def ticket(self, ticket_id: object) -> Ticket:
        ticket_id = require_id(ticket_id, "ticket")
        found = await self._tickets.ticket(ticket_id)
        if found is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        return found

    async def status(self, ticket_id: object, asked_by: str | None = None) -> str:
        """searching, matched, cancelled or expired. A player (`asked_by`) may ask only
        about their own tickets, as only a member may cancel one; trusted callers pass
        no player."""
        return (await self._own_ticket(ticket_id, asked_by)).state.value

    async def status_view(self, ticket_id: object, asked_by: str) -> dict[str, Any]:
        """`match.status` as a player sees it: the state and, once matched, the match as
        `match.found` told it (`match_id`, `queue`, `teams`, `server`), for a player who
        was offline when that push went out."""
        ticket = await self._own_ticket(ticket_id, asked_by)
        view: dict[str, Any] = {"state": ticket.state.value}
        if ticket.state is State.MATCHED and ticket.match_id is not None:
            found = await self._matches.read(ticket.match_id)
            if found is not None:
                record = found[0]
                view.update(
                    match_id=ticket.match_id,
                    queue=record["queue"],
                    teams=record["teams"],
                    server=record.get("server"),
                )
        return view

    async def _own_ticket(self, ticket_id: object, asked_by: str | None) -> Ticket:
        ticket = await self.ticket(ticket_id)
        if asked_by is not None and asked_by not in ticket.players:
            raise Forbidden("only a member of the ticket may ask its status")
        return ticket

    async def report_result(self, match_id: object, ranks: object) -> dict[str, Rating]:
        """Rate every player of the match once; a repeat returns the same ratings."""
        match_id = require_id(match_id, "match_id")
        parsed = parse_ranks(ranks)
        match = await self._results.store.match(match_id)
        if match is None:
            raise MatchNotFound(f"no match {match_id}")
        board = (await self.queue(match.queue)).ranked_board
        rated = await self._results.report(match, parsed, board)
        # A finished match takes nobody: a backfill still open stops with its result.
        await self._matches.close_backfill(match_id)
        return rated

    async def rating_of(self, player_id: str) -> Rating:
        """The player's rating; openskill's default before any rated match."""
        require_id(player_id, "player_id")
        [rating] = await self._results.store.ratings([player_id])
        return rating

    async def cancel_searching(self, player_id: str) -> None:
        """Cancel the player's searching ticket, if any (a party's: the whole ticket), so
        nobody is matched with a player who was banned while searching."""
        claim = await self._tickets.player_claim(player_id)
        if claim is not None:
            await self._tickets.cancel(claim.partition(" ")[0], player_id)

    async def forget_player(self, player_id: str) -> None:
        """Erasure: cancel the player's searching ticket, delete their solo tickets,
        redact them from the party tickets, match records and results that name them
        (domain/matchmaking/redaction.py), and drop their pointers, history and rating.

        A cancelled ticket's stream entry goes with the worker's next tick, as do pushes
        still in a partition's outbox once delivered.
        """
        claim = await self._tickets.player_claim(player_id)
        if claim is not None:
            ticket_id = claim.partition(" ")[0]
            await self._tickets.cancel(ticket_id, player_id)
            await self._tickets.release_player(player_id, claim)
        tickets, matches = await self._history.records(player_id)
        # Each record is its own key, and each redaction waits for replicas: all at once.
        await asyncio.gather(
            *(self._history.redact_ticket(ticket_id, player_id) for ticket_id in tickets),
            *(self._history.redact_match(match_id, player_id) for match_id in matches),
        )
        await self._results.store.forget(player_id)
        await self._history.forget(player_id)

    async def players_in_match(self, player_ids: Sequence[str]) -> set[str]:
        """Players matched and whose match has no result yet (at most `in_match_s`)."""
        return await self._results.store.in_match(player_ids)

    async def match_view(self, match_id: object) -> dict[str, Any]:
        """A match as operators see it: queue, teams (backfilled players included), server,
        state (`finished` once its result is reported, else `backfilling` while a backfill
        is open, else `started`), created_at."""
        match_id = require_id(match_id, "match_id")
        found = await self._matches.read(match_id)
        if found is None:
            raise MatchNotFound(f"no match {match_id}")
        record, backfill = found
        if await self._finished(match_id):
            state = "finished"
        else:
            state = "started" if backfill is None else "backfilling"
        return {
            "match_id": match_id,
            "queue": record["queue"],
            "teams": record["teams"],
            "server": record.get("server"),
            "state": state,
            "created_at": record["created"],
            "backfill": None
            if backfill is None
            else {"backfill_id": backfill["id"], "open": backfill["open"]},
        }

    async def open_backfill(self, match_id: object, open_slots: object) -> str:
        """Open slots of a running match to waiting tickets; returns the backfill id.

        A backfill opened while another is open replaces it. A match whose result was
        reported is over: `conflict`.
        """
        match_id = require_id(match_id, "match_id")
        found = await self._matches.read(match_id)
        if found is None:
            raise MatchNotFound(f"no match {match_id}")
        record, _ = found
        slots = parse_backfill_open(open_slots, record["teams"])
        if await self._finished(match_id):
            raise Conflict(f"match {match_id} is finished")
        backfill_id = f"bf.{secrets.token_hex(8)}"
        backfill = {"id": backfill_id, "open": [{"team": t, "slots": n} for t, n in slots]}
        if not await self._matches.open_backfill(match_id, backfill):
            raise MatchNotFound(f"no match {match_id}")
        # The result lives in another slot: one reported meanwhile closed no backfill yet,
        # so look again now that this one is open (a result after this look closes it).
        if await self._finished(match_id):
            await self._matches.close_backfill(match_id)
            raise Conflict(f"match {match_id} is finished")
        return backfill_id

    async def _finished(self, match_id: str) -> bool:
        return await self._results.store.result(match_id) is not None

    async def close_backfill(self, match_id: object) -> None:
        """Stop the match's backfill (nothing happens if none is open)."""
        match_id = require_id(match_id, "match_id")
        if not await self._matches.close_backfill(match_id):
            raise MatchNotFound(f"no match {match_id}")
