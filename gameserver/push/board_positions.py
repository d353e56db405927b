"""The watched players' own positions on one board, sorted, to find whom a write moved."""

from __future__ import annotations

import bisect

from domain.leaderboards.models import ChangeEvent, Position


class WatchedPositions:
    """Player id -> last known position, kept in board order.

    A write moves the rank of exactly the entries strictly between its old and new
    position (all entries after it for a new or removed entry), so finding them is two
    bisections and a slice instead of a test per watched player. It agrees with
    `domain.leaderboards.rules.moved_subscribers` for every player but the writer.
    """

    def __init__(self) -> None:
        self._by_player: dict[str, Position] = {}
        # (score, stamp, player id): tuples order exactly like `Position` (order=True
        # compares the fields in that order) but compare in C. A flush re-places
        # thousands of players; comparing dataclasses was a visible part of a fan-out.
        self._sorted: list[_Key] = []

    def __len__(self) -> int:
        return len(self._by_player)

    def __contains__(self, player_id: object) -> bool:
        return player_id in self._by_player

    def get(self, player_id: str) -> Position | None:
        return self._by_player.get(player_id)

    def place(self, player_id: str, position: Position | None) -> None:
        """Record the player's position; None for a player not on the board."""
        self.discard(player_id)
        if position is None:
            return
        if position.player_id != player_id:
            raise ValueError(f"position of {position.player_id!r} given for {player_id!r}")
        self._by_player[player_id] = position
        bisect.insort(self._sorted, _key(position))

    def discard(self, player_id: str) -> None:
        position = self._by_player.pop(player_id, None)
        if position is None:
            return
        index = bisect.bisect_left(self._sorted, _key(position))
        del self._sorted[index]

    def moved_by(self, event: ChangeEvent) -> set[str]:
        """The watched players other than the writer whose rank `event` changed.

        Reset and delete events move everyone.
        """
        if event.kind in ("reset", "delete"):
            return set(self._by_player)
        old, new = event.old, event.new
        if old is None and new is None:
            return set()
        if old is None or new is None:
            edge = new if old is None else old
            assert edge is not None
            start, stop = bisect.bisect_right(self._sorted, _key(edge)), len(self._sorted)
        else:
            low, high = sorted((_key(old), _key(new)))
            start = bisect.bisect_right(self._sorted, low)
            stop = bisect.bisect_left(self._sorted, high)
        writer = event.player_id
        return {key[2] for key in self._sorted[start:stop] if key[2] != writer}


_Key = tuple[float, int, str]


def _key(position: Position) -> _Key:
    return (position.score, position.stamp, position.player_id)
