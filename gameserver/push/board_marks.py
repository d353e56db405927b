"""The rank arithmetic of one board's pushes: whose rank a change event moved and by how
much, and whose rank it can't move (a re-query is needed), whether it may touch the top.

Pure bookkeeping; who is told what, and when, is `BoardState`'s (board_state.py).

An exact re-query gives a subscriber's rank together with, for every sub-board, the
stamp of the last write it counted (its anchor). A later event of that sub-board
(stamped after the anchor) that passes the subscriber moves its rank by one, applied
here without asking Valkey; an event stamped at or before the anchor is already in the
rank. Subscribers without an anchor (just joined, their own write moved them, a reset)
must be re-queried. Events that arrive while a re-query is out are kept and replayed on
its answer, so none is counted twice or lost between the two.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum

from domain.leaderboards.keys import sub_board_of
from domain.leaderboards.models import (
    ChangeEvent,
    Order,
    PlayerRank,
    Position,
    RankedEntry,
)
from domain.leaderboards.rules import denormalise, normalise, rank_shift, touches_top
from gameserver.push.board_positions import WatchedPositions

# Later than any stamp: a bound of the top that ties with every entry at its last score.
_AFTER_ANY_STAMP = 2**64


class Shift(Enum):
    """What one event did to one watched rank (not the writer's)."""

    NONE = "none"  # already counted in its rank, or no change
    MOVED = "moved"  # its rank moved by one, applied
    UNANCHORED = "unanchored"  # its rank can't be moved without an anchor: re-query


class Settled(Enum):
    """What became of a re-query's answer."""

    EXACT = "exact"  # taken; every event since it was counted
    UNSURE = "unsure"  # taken, but a replayed event could not be counted: re-query
    OVERTAKEN = "overtaken"  # the player's own write came after it was read: not taken


@dataclass
class Moves:
    """What one live-period event did to the watched ranks."""

    # Ranks moved by one (their anchors say the event was not in them yet).
    moved: set[str] = field(default_factory=set)
    # Ranks passed that have no anchor to move: re-query.
    unanchored: set[str] = field(default_factory=set)
    # The writer is watched and its own position changed (its rank moved by any amount).
    own_write: bool = False


class BoardMarks:
    def __init__(self, order: Order, period: str, sub_boards: int = 1) -> None:
        self.order = order
        self.sub_boards = sub_boards
        # The live period; events of any other one are not about the ranks we show.
        self.period = period
        self.positions = WatchedPositions()
        # Exact ranks as of the anchors, moved by every later event that passed them.
        self.ranks: dict[str, int] = {}
        self._anchors: dict[str, dict[int, int]] = {}
        self._seqs: dict[str, int] = {}
        self._top_bound: Position | None = None
        self._top_full = False
        # Events of the live period kept while re-queries are out (replayed on answers).
        self._log: list[ChangeEvent] = []
        self._queries = 0

    def seq(self, player_id: str) -> int:
        """How many of the player's own moves were seen (to spot re-queries they beat)."""
        return self._seqs.get(player_id, 0)

    def apply(self, event: ChangeEvent, watched: Collection[str]) -> Moves:
        """A write or removal of the live period (`period`): move the ranks it passed."""
        moves = Moves()
        if self._queries:
            self._log.append(event)
        moved = self.positions.moved_by(event)
        if moved:
            # Every player a write passes moves the same way: down one if the mover
            # arrived or rose past it, up one if the mover left or fell behind it.
            change = 1 if event.old is None or (event.new and event.new < event.old) else -1
            for player_id in moved:
                shift = self._shift(player_id, event, change)
                if shift is Shift.MOVED:
                    moves.moved.add(player_id)
                elif shift is Shift.UNANCHORED:
                    moves.unanchored.add(player_id)
        if event.player_id in watched and event.old != event.new:
            # Its own move changes its rank by any amount: it must be asked again, and
            # the answers of re-queries already out are dropped (`seq`).
            self._seqs[event.player_id] = self.seq(event.player_id) + 1
            self.positions.place(event.player_id, event.new)
            self._anchors.pop(event.player_id, None)
            moves.own_write = True
        return moves

    def touches_top(self, event: ChangeEvent) -> bool:
        """Whether a live-period event may change the top last read (`top_seen`)."""
        return touches_top(event, self._top_bound, self._top_full)

    def _shift(self, player_id: str, event: ChangeEvent, change: int) -> Shift:
        """Move the rank of `player_id` (not the writer) by `change`, what `event` did
        to it, if its anchor says the event is not in it yet; without one, it can't."""
        anchor = self._anchors.get(player_id)
        if anchor is None:
            return Shift.UNANCHORED
        counted_up_to = anchor.get(sub_board_of(event.player_id, self.sub_boards))
        if counted_up_to is None:
            return Shift.UNANCHORED
        if event.at_us <= counted_up_to or not change:
            return Shift.NONE
        self.ranks[player_id] += change
        return Shift.MOVED

    def new_period(self, period: str) -> None:
        """A reset or a new period: the ranks held no longer apply, so events until the
        re-queries' answers can't move them (they are `UNANCHORED`)."""
        self.period = period
        self._anchors.clear()

    def begin_query(self) -> int:
        """A re-query is going out; pass the returned mark to `requeried`."""
        self._queries += 1
        return len(self._log)

    def end_query(self) -> None:
        self._queries -= 1
        if self._queries == 0:
            self._log.clear()

    def requeried(self, player_id: str, found: PlayerRank | None, seq: int, since: int) -> Settled:
        """A re-query issued when the player's seq was `seq` and the log at `since`
        found `found` (None: not on the board). `OVERTAKEN` if the player's own write
        came after it (its answer is not taken)."""
        if self.seq(player_id) != seq:
            return Settled.OVERTAKEN
        if found is None or found.period != self.period:
            self.positions.place(player_id, None)
            self._anchors.pop(player_id, None)
            self.ranks.pop(player_id, None)
            return Settled.EXACT
        self.positions.place(player_id, found.position)
        self._anchors[player_id] = found.stamps
        self.ranks[player_id] = found.rank
        settled = Settled.EXACT
        for event in self._log[since:]:
            if event.player_id != player_id:
                shift = self._shift(player_id, event, rank_shift(event, found.position))
                if shift is Shift.UNANCHORED:
                    settled = Settled.UNSURE
        return settled

    def forget(self, player_id: str) -> None:
        self.positions.discard(player_id)
        self._seqs.pop(player_id, None)
        self._anchors.pop(player_id, None)
        self.ranks.pop(player_id, None)

    def score(self, player_id: str) -> float | None:
        """The player's score as players see it, from its watched position."""
        position = self.positions.get(player_id)
        return None if position is None else denormalise(self.order, position.score)

    def top_seen(self, entries: list[RankedEntry], limit: int) -> None:
        """The top `limit` entries as just read: events below them leave the top alone."""
        self._top_full = len(entries) >= limit
        self._top_bound = None
        if self._top_full and entries:
            # The stamp of the last entry isn't known: tie with all entries at its score.
            score = normalise(self.order, float(entries[-1].score))
            self._top_bound = Position(score, _AFTER_ANY_STAMP, "")
