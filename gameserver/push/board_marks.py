"""What change events tell one board's flusher: who to re-query, whether the top changed.

Pure bookkeeping: the flusher re-queries the marked players and the top, and pushes only
what actually differs, so a mark too many costs a query, never a wrong push.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from domain.leaderboards.models import ChangeEvent, Order, Position, RankedEntry
from domain.leaderboards.rules import normalise, touches_top
from gameserver.push.board_positions import WatchedPositions

# Later than any stamp: a bound of the top that ties with every entry at its last score.
_AFTER_ANY_STAMP = 2**64


class BoardMarks:
    def __init__(self, order: Order, period: str) -> None:
        self.order = order
        # The live period; events of any other one are not about the ranks we show.
        self.period = period
        self.positions = WatchedPositions()
        self.dirty: set[str] = set()
        self.top_dirty = False
        # While a top query is out, any event may have missed it: mark the top again.
        self.top_fetching = False
        self.deleted = False
        # An event of a period we don't know: the board was reset or a period began.
        self.period_in_doubt = False
        self.events_seen = 0
        self._seqs: dict[str, int] = {}
        self._top_bound: Position | None = None
        self._top_full = False

    def seq(self, player_id: str) -> int:
        """How many of the player's own events were seen (to spot re-queries they beat)."""
        return self._seqs.get(player_id, 0)

    def apply(self, event: ChangeEvent, watched: Collection[str]) -> None:
        self.events_seen += 1
        if event.kind == "delete":
            self.deleted = True
        elif event.kind == "reset":
            self.period = event.period
            self.mark_all(watched)
        elif event.period != self.period:
            self.period_in_doubt = True
        else:
            self.dirty |= self.positions.moved_by(event)
            if event.player_id in watched:
                self._seqs[event.player_id] = self.seq(event.player_id) + 1
                self.positions.place(event.player_id, event.new)
                if event.old != event.new:
                    self.dirty.add(event.player_id)
            if self.top_fetching or touches_top(event, self._top_bound, self._top_full):
                self.top_dirty = True

    def mark_all(self, watched: Iterable[str]) -> None:
        self.dirty.update(watched)
        self.top_dirty = True

    def requeried(self, player_id: str, position: Position | None, seq: int) -> None:
        """A re-query issued when the player's seq was `seq` found `position`."""
        if self.seq(player_id) == seq:
            self.positions.place(player_id, position)

    def forget(self, player_id: str) -> None:
        self.positions.discard(player_id)
        self.dirty.discard(player_id)
        self._seqs.pop(player_id, None)

    def top_seen(self, entries: list[RankedEntry], limit: int) -> None:
        """The top `limit` entries as just read: events below them leave the top alone."""
        self._top_full = len(entries) >= limit
        self._top_bound = None
        if self._top_full and entries:
            # The stamp of the last entry isn't known: tie with all entries at its score.
            score = normalise(self.order, float(entries[-1].score))
            self._top_bound = Position(score, _AFTER_ANY_STAMP, "")
