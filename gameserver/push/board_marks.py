"""What change events tell one board's flusher: whose rank moved and by how much, whom
to re-query, whether the top changed.

Pure bookkeeping. An exact re-query gives a subscriber's rank together with, for every
sub-board, the stamp of the last write it counted (its anchor). A later event of that
sub-board (stamped after the anchor) that passes the subscriber moves its rank by one,
applied here without asking Valkey; an event stamped at or before the anchor is already
in the rank. Subscribers without an anchor (just joined, their own write moved them, a
reset) are re-queried. Events that arrive while a re-query is out are kept and replayed
on its answer, so none is counted twice or lost between the two. The flusher pushes only
what differs from what the subscriber was told, and re-queries everyone once the board
goes quiet, so a lost pub/sub message can't leave a stale rank behind.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

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


class BoardMarks:
    def __init__(self, order: Order, period: str, sub_boards: int = 1) -> None:
        self.order = order
        self.sub_boards = sub_boards
        # The live period; events of any other one are not about the ranks we show.
        self.period = period
        self.positions = WatchedPositions()
        # To re-query.
        self.dirty: set[str] = set()
        # Whose rank events moved since it was last pushed (see `ranks`).
        self.shifted: set[str] = set()
        # Exact ranks as of the anchors, moved by every later event that passed them.
        self.ranks: dict[str, int] = {}
        self.top_dirty = False
        # While a top query is out, any event may have missed it: mark the top again.
        self.top_fetching = False
        self.deleted = False
        # An event of a period we don't know: the board was reset or a period began.
        self.period_in_doubt = False
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

    def apply(self, event: ChangeEvent, watched: Collection[str]) -> None:
        if event.kind == "delete":
            self.deleted = True
        elif event.kind == "reset":
            self.period = event.period
            self.mark_all(watched, forget_ranks=True)
        elif event.period != self.period:
            self.period_in_doubt = True
        else:
            if self._queries:
                self._log.append(event)
            moved = self.positions.moved_by(event)
            if moved:
                # Every player a write passes moves the same way: down one if the mover
                # arrived or rose past it, up one if the mover left or fell behind it.
                change = 1 if event.old is None or (event.new and event.new < event.old) else -1
                for player_id in moved:
                    self._shift(player_id, event, change)
            if event.player_id in watched and event.old != event.new:
                # Its own move changes its rank by any amount: ask again, and drop the
                # answers of re-queries already out (`seq`).
                self._seqs[event.player_id] = self.seq(event.player_id) + 1
                self.positions.place(event.player_id, event.new)
                self._anchors.pop(event.player_id, None)
                # A rank moved by earlier events is no longer its rank: pushing it with
                # the new score would show a pair that never was. The re-query pushes.
                self.shifted.discard(event.player_id)
                self.dirty.add(event.player_id)
            if self.top_fetching or touches_top(event, self._top_bound, self._top_full):
                self.top_dirty = True

    def _shift(self, player_id: str, event: ChangeEvent, change: int) -> None:
        """Move the rank of `player_id` (not the writer) by `change`, what `event` did
        to it, if its anchor says the event is not in it yet; without one, re-query it."""
        anchor = self._anchors.get(player_id)
        if anchor is None:
            self.dirty.add(player_id)
            return
        counted_up_to = anchor.get(sub_board_of(event.player_id, self.sub_boards))
        if counted_up_to is None:
            self.dirty.add(player_id)
            return
        if event.at_us <= counted_up_to:
            return
        if change:
            self.ranks[player_id] += change
            self.shifted.add(player_id)

    def mark_all(self, watched: Iterable[str], forget_ranks: bool = False) -> None:
        """Re-query everyone (and the top); `forget_ranks` when the ranks no longer apply
        (a new period), so that events until the answers mark instead of shifting."""
        self.dirty.update(watched)
        self.top_dirty = True
        if forget_ranks:
            self._anchors.clear()
            self.shifted.clear()

    def begin_query(self) -> int:
        """A re-query is going out; pass the returned mark to `requeried`."""
        self._queries += 1
        return len(self._log)

    def end_query(self) -> None:
        self._queries -= 1
        if self._queries == 0:
            self._log.clear()

    def requeried(self, player_id: str, found: PlayerRank | None, seq: int, since: int) -> bool:
        """A re-query issued when the player's seq was `seq` and the log at `since`
        found `found` (None: not on the board). False if the player's own write
        overtook the query (it is dirty again and its answer is not taken)."""
        if self.seq(player_id) != seq:
            return False
        self.shifted.discard(player_id)
        if found is None or found.period != self.period:
            self.positions.place(player_id, None)
            self._anchors.pop(player_id, None)
            self.ranks.pop(player_id, None)
            return True
        self.positions.place(player_id, found.position)
        self._anchors[player_id] = found.stamps
        self.ranks[player_id] = found.rank
        for event in self._log[since:]:
            if event.player_id != player_id:
                self._shift(player_id, event, rank_shift(event, found.position))
        return True

    def forget(self, player_id: str) -> None:
        self.positions.discard(player_id)
        self.dirty.discard(player_id)
        self.shifted.discard(player_id)
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
