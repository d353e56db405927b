"""One board's push state on this gateway: three explicit state machines and one owner.

- Each subscription's rank is in one `RankState`: what the subscriber was told against
  what the gateway knows, and whether a query about it is out.
- The board's top is in one `TopState`.
- The board itself is in one `BoardLife`: its period known, in doubt or being checked,
  or the board deleted.

The tables below (`RANK_TRANSITIONS`, `TOP_TRANSITIONS`, `LIFE_TRANSITIONS`) are the
whole of the transitions; a pair missing from a table is a bug (`InvalidTransition`).
`BoardState` is the only code that changes a state: the pub/sub callback hands it what
a channel said (`on_change`, `on_gap`), the socket's read loop a join or a leave, the
flusher what its queries answered, and it answers what to push (`RankPush`, `TopPush`).
It never awaits and does no I/O, so every transition is tested without a server
(tests/unit/test_board_state.py). `BoardFeed` does the I/O: the queries, the encoding
and the writes, each through the socket's one writer (`ClientConnection.send`). The rank
arithmetic behind the rank states (anchors, events replayed on answers) is `BoardMarks`;
when a flush is due is `FlushSchedule`'s, which this owner keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from domain.leaderboards.models import ChangeEvent, Order, PlayerRank, RankedEntry
from gameserver.push.board_marks import BoardMarks, Settled
from gameserver.push.board_schedule import FlushSchedule, PushPacing

if TYPE_CHECKING:
    from gameserver.gateway.connection import ClientConnection


# Members are singletons compared by identity: hash them so too, in C (Enum's own
# `__hash__` is Python code, and every transition looks a member up in a table).
_identity_hash = object.__hash__


class InvalidTransition(RuntimeError):
    """An event reached a state the tables say it never reaches: a bug."""


class RankState(Enum):
    __hash__ = _identity_hash

    # The subscribe query is out: nothing is pushed before its reply.
    JOINING = "joining"
    # ... and an own write or a re-check came meanwhile: re-query after the reply.
    JOINING_STALE = "joining_stale"
    # The subscriber was told the rank held (or nothing newer is known).
    CURRENT = "current"
    # Events moved the rank held since it was told: push it at the next rank flush.
    MOVED = "moved"
    # The rank held is not exact (no anchor, an own write, a re-check): re-query it.
    STALE = "stale"
    # In a re-query that is out; its answer is taken only in this state.
    QUERYING = "querying"
    # Unsubscribed, its socket closed or a newer one took over: never pushed again.
    GONE = "gone"


class RankEvent(Enum):
    __hash__ = _identity_hash

    PASSED = "passed"  # an event moved its anchored rank by one
    UNANCHORED = "unanchored"  # an event passed it, but there is no anchor to move
    OWN_WRITE = "own_write"  # its own write moved it (by any amount)
    RECHECK = "recheck"  # everyone is re-queried: quiet board, resync, gap, new period
    SENT = "sent"  # a re-query of it went out
    EXACT = "exact"  # an answer was taken and told; every event since was counted
    UNSURE = "unsure"  # an answer was told, but is not exact any more: ask again
    FAILED = "failed"  # its query failed
    PUSHED = "pushed"  # its moved rank went out (or equalled the one told)
    LEFT = "left"  # unsubscribed, socket closed, taken over


R, E = RankState, RankEvent
# While a query is out, events that pass are kept and replayed on its answer.
_REPLAYED = {E.PASSED: R.QUERYING, E.UNANCHORED: R.QUERYING}
RANK_TRANSITIONS: dict[RankState, dict[RankEvent, RankState]] = {
    R.JOINING: {
        E.PASSED: R.JOINING,
        E.UNANCHORED: R.JOINING,
        E.OWN_WRITE: R.JOINING_STALE,
        E.RECHECK: R.JOINING_STALE,
        E.EXACT: R.CURRENT,
        E.UNSURE: R.STALE,
        E.FAILED: R.GONE,
        E.LEFT: R.GONE,
    },
    R.JOINING_STALE: {
        E.PASSED: R.JOINING_STALE,
        E.UNANCHORED: R.JOINING_STALE,
        E.OWN_WRITE: R.JOINING_STALE,
        E.RECHECK: R.JOINING_STALE,
        E.EXACT: R.STALE,
        E.UNSURE: R.STALE,
        E.FAILED: R.GONE,
        E.LEFT: R.GONE,
    },
    R.CURRENT: {
        E.PASSED: R.MOVED,
        E.UNANCHORED: R.STALE,
        E.OWN_WRITE: R.STALE,
        E.RECHECK: R.STALE,
        E.LEFT: R.GONE,
    },
    R.MOVED: {
        E.PASSED: R.MOVED,
        # A moved rank beside the new score of an own write would show a pair that never
        # was: the re-query pushes.
        E.UNANCHORED: R.STALE,
        E.OWN_WRITE: R.STALE,
        E.RECHECK: R.STALE,
        E.PUSHED: R.CURRENT,
        E.LEFT: R.GONE,
    },
    R.STALE: {
        E.PASSED: R.STALE,
        E.UNANCHORED: R.STALE,
        E.OWN_WRITE: R.STALE,
        E.RECHECK: R.STALE,
        E.SENT: R.QUERYING,
        E.LEFT: R.GONE,
    },
    R.QUERYING: {
        **_REPLAYED,
        # Its answer may have been read before: it is dropped, and the player asked again.
        E.OWN_WRITE: R.STALE,
        E.RECHECK: R.STALE,
        E.EXACT: R.CURRENT,
        E.UNSURE: R.STALE,
        E.FAILED: R.STALE,
        E.LEFT: R.GONE,
    },
    R.GONE: {event: R.GONE for event in RankEvent},
}


class TopState(Enum):
    __hash__ = _identity_hash

    CLEAN = "clean"  # the top pushed is current as far as events tell
    DIRTY = "dirty"  # it may have changed, or a subscriber wants it: read it
    FETCHING = "fetching"  # a read is out
    FETCHING_DIRTY = "fetching_dirty"  # ... and the read may have missed an event


class TopEvent(Enum):
    __hash__ = _identity_hash

    TOUCHED = "touched"  # an event may have changed the top, or a subscriber wants it
    WRITE = "write"  # an event of the live period that leaves the top read alone
    SENT = "sent"  # a read went out
    UNWANTED = "unwanted"  # no subscriber wants a top: nothing to read
    ANSWERED = "answered"  # the read came back
    FAILED = "failed"  # the read failed


T, TE = TopState, TopEvent
TOP_TRANSITIONS: dict[TopState, dict[TopEvent, TopState]] = {
    T.CLEAN: {TE.TOUCHED: T.DIRTY, TE.WRITE: T.CLEAN},
    T.DIRTY: {
        TE.TOUCHED: T.DIRTY,
        TE.WRITE: T.DIRTY,
        TE.SENT: T.FETCHING,
        TE.UNWANTED: T.CLEAN,
    },
    # Any write while a read is out may be missing from it.
    T.FETCHING: {
        TE.TOUCHED: T.FETCHING_DIRTY,
        TE.WRITE: T.FETCHING_DIRTY,
        TE.ANSWERED: T.CLEAN,
        TE.FAILED: T.DIRTY,
    },
    T.FETCHING_DIRTY: {
        TE.TOUCHED: T.FETCHING_DIRTY,
        TE.WRITE: T.FETCHING_DIRTY,
        TE.ANSWERED: T.DIRTY,
        TE.FAILED: T.DIRTY,
    },
}


class BoardLife(Enum):
    __hash__ = _identity_hash

    LIVE = "live"  # the period held is the live one as far as events tell
    IN_DOUBT = "in_doubt"  # an event of an unknown period, or lost events: check now
    CHECKING = "checking"  # a routine period check is out
    RECHECKING = "rechecking"  # a check of a period in doubt is out
    DELETED = "deleted"  # the board is gone: tell everyone and retire the feed


class LifeEvent(Enum):
    __hash__ = _identity_hash

    DOUBT = "doubt"  # an event of a period we don't know, or a gap in the events
    CHECK = "check"  # a period check went out
    READ = "read"  # it came back
    FAILED = "failed"  # it failed
    DELETED = "deleted"  # a delete event, or a query found no board


L, LE = BoardLife, LifeEvent
LIFE_TRANSITIONS: dict[BoardLife, dict[LifeEvent, BoardLife]] = {
    L.LIVE: {LE.DOUBT: L.IN_DOUBT, LE.CHECK: L.CHECKING, LE.DELETED: L.DELETED},
    # A doubt that came while a check was out outlives the check's answer.
    L.IN_DOUBT: {
        LE.DOUBT: L.IN_DOUBT,
        LE.CHECK: L.RECHECKING,
        LE.READ: L.IN_DOUBT,
        LE.FAILED: L.IN_DOUBT,
        LE.DELETED: L.DELETED,
    },
    L.CHECKING: {
        LE.DOUBT: L.IN_DOUBT,
        LE.READ: L.LIVE,
        LE.FAILED: L.LIVE,
        LE.DELETED: L.DELETED,
    },
    L.RECHECKING: {
        LE.DOUBT: L.IN_DOUBT,
        LE.READ: L.LIVE,
        LE.FAILED: L.IN_DOUBT,
        LE.DELETED: L.DELETED,
    },
    L.DELETED: {event: L.DELETED for event in LifeEvent},
}


_S = TypeVar("_S", bound=Enum)
_V = TypeVar("_V", bound=Enum)


def _next(table: dict[_S, dict[_V, _S]], state: _S, event: _V) -> _S:
    new = table[state].get(event)
    if new is None:
        raise InvalidTransition(f"{event.name} in state {state.name}")
    return new


# The same table by event: a write passes thousands of subscriptions at once.
_RANK_COLUMNS: dict[RankEvent, dict[RankState, RankState]] = {
    event: {state: row[event] for state, row in RANK_TRANSITIONS.items() if event in row}
    for event in RankEvent
}


def next_rank_state(state: RankState, event: RankEvent) -> RankState:
    return _next(RANK_TRANSITIONS, state, event)


def next_top_state(state: TopState, event: TopEvent) -> TopState:
    return _next(TOP_TRANSITIONS, state, event)


def next_life(state: BoardLife, event: LifeEvent) -> BoardLife:
    return _next(LIFE_TRANSITIONS, state, event)


# Subscribers whose subscribe reply is not out yet (or who left) get no push.
_NOT_READY = frozenset({R.JOINING, R.JOINING_STALE, R.GONE})


@dataclass(eq=False, slots=True)
class Subscription:
    player_id: str
    connection: ClientConnection
    top: int
    state: RankState = RankState.JOINING
    # What the subscriber was last told (subscribe reply or push).
    rank: int | None = None
    shown_top: list[dict[str, Any]] | None = None

    @property
    def ready(self) -> bool:
        """The subscribe reply is on its way and the subscription stands: pushes may go."""
        return self.state not in _NOT_READY


class RankPush(NamedTuple):
    """A `rank.changed` to push: `rank` replaces `previous_rank`, the rank last told."""

    subscription: Subscription
    rank: int | None
    previous_rank: int | None
    score: float | None


@dataclass(frozen=True, slots=True)
class TopPush:
    """One `board.top` frame, encoded once, for every subscription in `subscriptions`."""

    entries: list[dict[str, Any]]
    subscriptions: list[Subscription]


@dataclass(slots=True)
class Joining:
    """A subscribe whose query is out (see `BoardState.join`)."""

    subscription: Subscription
    previous: Subscription | None
    seq: int
    since: int


@dataclass(slots=True)
class Requery:
    """A flush's re-query of the stale subscriptions (see `BoardState.start_requery`)."""

    subscriptions: list[Subscription]
    seqs: dict[str, int]
    since: int


class BoardState:
    """The states of one board's subscriptions, its top and its life, and their one owner."""

    def __init__(
        self,
        order: Order,
        period: str,
        sub_boards: int = 1,
        *,
        pacing: PushPacing | None = None,
        now: float = 0.0,
    ) -> None:
        self.marks = BoardMarks(order, period, sub_boards)
        self.schedule = FlushSchedule(pacing or PushPacing(), now)
        self.subscriptions: dict[str, Subscription] = {}
        self._top = TopState.CLEAN
        self._life = BoardLife.LIVE
        # The subscriptions in the states the flusher looks for, so that it never scans.
        self._moved: set[Subscription] = set()
        self._stale: set[Subscription] = set()
        self._indexed = {R.MOVED: self._moved, R.STALE: self._stale}

    # Transitions: every state change goes through these three.

    def _on(self, subscription: Subscription, event: RankEvent) -> None:
        self._on_each((subscription,), event)

    def _on_each(self, subscriptions: Iterable[Subscription], event: RankEvent) -> None:
        """`event` happened to each of `subscriptions` (a write passes thousands at once:
        one lookup of the event's column, then one per subscription)."""
        column = _RANK_COLUMNS[event]
        indexed = self._indexed
        for subscription in subscriptions:
            old = subscription.state
            new = column.get(old)
            if new is None:
                raise InvalidTransition(f"{event.name} in state {old.name}")
            if new is old:
                continue
            if (left := indexed.get(old)) is not None:
                left.discard(subscription)
            if (entered := indexed.get(new)) is not None:
                entered.add(subscription)
            subscription.state = new

    def _top_on(self, event: TopEvent) -> None:
        self._top = next_top_state(self._top, event)

    def _life_on(self, event: LifeEvent) -> None:
        self._life = next_life(self._life, event)

    def _on_players(self, player_ids: Iterable[str], event: RankEvent) -> None:
        get = self.subscriptions.get
        self._on_each([s for p in player_ids if (s := get(p)) is not None], event)

    # What the flusher looks at.

    @property
    def top(self) -> TopState:
        return self._top

    @property
    def life(self) -> BoardLife:
        return self._life

    @property
    def moved(self) -> int:
        return len(self._moved)

    @property
    def stale(self) -> int:
        return len(self._stale)

    def next_deadline(self) -> float:
        """When the flusher must next look (it also wakes on every event)."""
        if self.life in (L.IN_DOUBT, L.DELETED):
            return 0.0
        return self.schedule.next_deadline(
            ranks_dirty=bool(self._moved or self._stale),
            top_dirty=self.top is T.DIRTY,
        )

    def period_check_due(self, now: float) -> bool:
        return self.life is L.IN_DOUBT or self.schedule.period_check_due(now)

    def ranks_due(self, now: float) -> bool:
        return bool(self._moved or self._stale) and self.schedule.ranks_due(now)

    def top_due(self, now: float) -> bool:
        return self.top is T.DIRTY and self.schedule.top_due(now)

    # Events from the board's channels (the pub/sub callback).

    def on_change(self, event: ChangeEvent, now: float) -> None:
        self.schedule.event_seen(now)
        match event.kind:
            case "delete":
                self._life_on(LE.DELETED)
            case "reset":
                self._new_period(event.period)
            case _ if event.period != self.marks.period:
                # A reset whose event we missed, or a new period that began; an old
                # period's write racing a reset changes nothing.
                self._life_on(LE.DOUBT)
            case _:
                moves = self.marks.apply(event, self.subscriptions)
                self._on_players(moves.moved, E.PASSED)
                self._on_players(moves.unanchored, E.UNANCHORED)
                if moves.own_write:
                    self._on_players((event.player_id,), E.OWN_WRITE)
                self._top_on(TE.TOUCHED if self.marks.touches_top(event) else TE.WRITE)

    def on_gap(self) -> None:
        """A channel was subscribed again: its events in between are lost. Re-query
        everyone and check the period (a reset event may be among the lost)."""
        self.recheck_all()
        self._life_on(LE.DOUBT)

    def recheck_all(self) -> None:
        """Re-query every subscriber and the top (the flusher's backstops call it too)."""
        self._on_each(self.subscriptions.values(), E.RECHECK)
        self._top_on(TE.TOUCHED)

    def _new_period(self, period: str) -> None:
        self.marks.new_period(period)
        self.recheck_all()

    # Joins and leaves (the socket's read loop).

    def join(self, player_id: str, connection: ClientConnection, top: int) -> Joining:
        """A subscribe (or a new one replacing the player's) whose query goes out now;
        pass its answer to `joined` or its failure to `join_failed`."""
        subscription = Subscription(player_id, connection, top)
        previous = self.subscriptions.get(player_id)
        if previous is not None:
            self._on(previous, E.LEFT)
        self.subscriptions[player_id] = subscription
        return Joining(subscription, previous, self.marks.seq(player_id), self.marks.begin_query())

    def joined(self, joining: Joining, found: PlayerRank | None) -> int | None:
        """The join's query found `found`: the rank its reply tells. Events that came
        during the query are replayed on the answer."""
        subscription = joining.subscription
        try:
            if subscription.state is R.GONE:  # another socket of the player took over
                return found.rank if found else None
            settled = self.marks.requeried(
                subscription.player_id, found, joining.seq, joining.since
            )
        finally:
            self.marks.end_query()
        if settled is Settled.OVERTAKEN:
            # An own write came after the read: its answer, exact when read, until the
            # re-query this write asked for.
            subscription.rank = found.rank if found else None
            self._on(subscription, E.UNSURE)
        else:
            subscription.rank = self.marks.ranks.get(subscription.player_id)
            self._on(subscription, E.EXACT if settled is Settled.EXACT else E.UNSURE)
        if subscription.top:
            self._top_on(TE.TOUCHED)
        return subscription.rank

    def join_failed(self, joining: Joining) -> None:
        """The join's query failed: the subscription it replaced, if any, stands again
        (and is re-queried: events may have passed it meanwhile)."""
        self.marks.end_query()
        subscription = joining.subscription
        if subscription.state is R.GONE:
            return
        self._on(subscription, E.FAILED)
        player_id = subscription.player_id
        previous = joining.previous
        if previous is None:
            del self.subscriptions[player_id]
            self.marks.forget(player_id)
            return
        restored = Subscription(
            player_id,
            previous.connection,
            previous.top,
            R.STALE,
            previous.rank,
            previous.shown_top,
        )
        self._stale.add(restored)
        self.subscriptions[player_id] = restored

    def leave(self, player_id: str, connection: ClientConnection) -> bool:
        """Drop the player's subscription if `connection` holds it."""
        subscription = self.subscriptions.get(player_id)
        if subscription is None or subscription.connection is not connection:
            return False
        self._on(subscription, E.LEFT)
        del self.subscriptions[player_id]
        self.marks.forget(player_id)
        return True

    # The flusher: ranks.

    def refresh_if_due(self, now: float) -> None:
        """The quiet-board and periodic backstops: re-query everyone when due."""
        if self.schedule.take_full_refresh(now):
            self.recheck_all()

    def take_moved(self, chunk: int) -> Iterator[list[RankPush]]:
        """Push the ranks that events moved since they were told, `chunk` subscribers at a
        time: each chunk is decided when it is taken, so one whose socket writes in between
        sees the states as they are then. A subscriber whose earlier frames are still
        queued stays `MOVED`, coalesced into a later flush: a socket slower than the board
        never piles up stale ranks."""
        moved = list(self._moved)
        for start in range(0, len(moved), chunk):
            told = [
                s
                for s in moved[start : start + chunk]
                if s.state is R.MOVED and not s.connection.busy
            ]
            pushes = [push for s in told if (push := self._rank_push(s)) is not None]
            self._on_each(told, E.PUSHED)
            yield pushes

    def start_requery(self) -> Requery:
        """Every stale subscription goes into one re-query; settle each with `settle`,
        then `end_requery` (or `requery_failed`)."""
        subscriptions = list(self._stale)
        self._on_each(subscriptions, E.SENT)
        seqs = {s.player_id: self.marks.seq(s.player_id) for s in subscriptions}
        return Requery(subscriptions, seqs, self.marks.begin_query())

    def settle(
        self, requery: Requery, subscription: Subscription, found: PlayerRank | None
    ) -> RankPush | None:
        """The re-query found `found` for `subscription`: the push it makes, if any."""
        if subscription.state is not R.QUERYING:
            return None  # an own write, a re-check or a leave came after it went out
        settled = self.marks.requeried(
            subscription.player_id, found, requery.seqs[subscription.player_id], requery.since
        )
        if settled is Settled.OVERTAKEN:  # (an own write would have made it STALE)
            self._on(subscription, E.UNSURE)
            return None
        push = self._rank_push(subscription)
        self._on(subscription, E.EXACT if settled is Settled.EXACT else E.UNSURE)
        return push

    def end_requery(self, requery: Requery) -> None:
        self.marks.end_query()

    def requery_failed(self, requery: Requery) -> None:
        """Whoever the failed re-query left unanswered is stale again."""
        for subscription in requery.subscriptions:
            if subscription.state is R.QUERYING:
                self._on(subscription, E.FAILED)

    def _rank_push(self, subscription: Subscription) -> RankPush | None:
        player_id = subscription.player_id
        rank = self.marks.ranks.get(player_id)
        if rank == subscription.rank:
            return None
        score = None if rank is None else self.marks.score(player_id)
        push = RankPush(subscription, rank, subscription.rank, score)
        subscription.rank = rank
        return push

    # The flusher: the top.

    def start_top(self) -> int:
        """The length of the top to read now (0: no subscriber wants one, nothing to
        read); pass the read to `top_read` or its failure to `top_failed`."""
        limit = max((s.top for s in self.subscriptions.values()), default=0)
        self._top_on(TE.SENT if limit else TE.UNWANTED)
        return limit

    def top_read(self, entries: list[RankedEntry], limit: int) -> None:
        """The top `limit` entries as just read: events below them leave the top alone."""
        self.marks.top_seen(entries, limit)
        self._top_on(TE.ANSWERED)

    def top_failed(self) -> None:
        self._top_on(TE.FAILED)

    def take_top(self, entries: list[dict[str, Any]], limit: int) -> list[TopPush]:
        """The `board.top` pushes of the top `limit` entries just read (display names
        added): one per top length, to every ready subscriber whose slice changed."""
        by_length: dict[int, TopPush] = {}
        # Subscribers told the same push hold the same list: compare it once per length
        # (each list is held in its entry, so its id is not reused meanwhile).
        changed: dict[tuple[int, int], tuple[list[dict[str, Any]] | None, bool]] = {}
        for subscription in self.subscriptions.values():
            if not subscription.ready or not subscription.top:
                continue
            if subscription.top > limit:
                # Joined during the read with a longer top (its join asked for a read too).
                self._top_on(TE.TOUCHED)
                continue
            push = by_length.get(subscription.top)
            if push is None:
                # Subscribers of one top length share the slice and its encoded frame.
                push = TopPush(entries[: subscription.top], [])
                by_length[subscription.top] = push
            shown = subscription.shown_top
            key = (subscription.top, id(shown))
            held = changed.get(key)
            if held is None:
                held = changed[key] = (shown, push.entries != shown)
            if held[1]:
                if subscription.connection.busy:
                    self._top_on(TE.TOUCHED)  # coalesced into a later flush
                    continue
                subscription.shown_top = push.entries
                push.subscriptions.append(subscription)
        return [push for push in by_length.values() if push.subscriptions]

    # The flusher: the period and the board's end.

    def start_period_check(self, now: float) -> bool:
        """A period check goes out; whether the period was in doubt."""
        in_doubt = self.life is L.IN_DOUBT
        self.schedule.period_checked(now)
        self._life_on(LE.CHECK)
        return in_doubt

    def period_read(self, period: str) -> None:
        self._life_on(LE.READ)
        if period != self.marks.period:
            self._new_period(period)

    def period_check_failed(self) -> None:
        self._life_on(LE.FAILED)

    def board_deleted(self) -> None:
        self._life_on(LE.DELETED)

    def farewells(self) -> tuple[list[RankPush], list[TopPush]]:
        """The board is gone: every rank told becomes null, every top shown empty."""
        ranks: list[RankPush] = []
        emptied = TopPush([], [])
        for subscription in self.subscriptions.values():
            if not subscription.ready:
                continue
            if subscription.rank is not None:
                ranks.append(RankPush(subscription, None, subscription.rank, None))
                subscription.rank = None
            if subscription.top and subscription.shown_top:
                subscription.shown_top = []
                emptied.subscriptions.append(subscription)
        return ranks, [emptied] if emptied.subscriptions else []
