"""A plain Python leaderboard: the reference the real boards are checked against."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from domain.leaderboards.models import Operator, Order
from domain.leaderboards.rules import apply_operator, normalise

Key = tuple[float, int, str]


@dataclass
class ModelBoard:
    order: Order
    operator: Operator
    # player -> (score, sequence number of the write that reached it)
    entries: dict[str, tuple[float, int]] = field(default_factory=dict)
    metadata: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    _sorted: list[Key] = field(default_factory=list)
    _seq: int = 0

    def submit(
        self, player: str, value: float, metadata: dict[str, Any] | None = None
    ) -> tuple[float, int, int | None]:
        """(stored score, rank, previous rank) as the contract defines them."""
        previous = self.rank(player) if player in self.entries else None
        old = self.entries.get(player)
        score = apply_operator(self.operator, self.order, None if old is None else old[0], value)
        self._seq += 1
        changed = old is None or self.operator != "best" or score != old[0]
        if old is None or score != old[0]:
            if old is not None:
                self._sorted.remove(self._key(player))
            self.entries[player] = (score, self._seq)
            bisect.insort(self._sorted, self._key(player))
        if changed and metadata is not None:
            self.metadata[player] = metadata
        return score, self.rank(player), previous

    def remove(self, player: str) -> None:
        self._sorted.remove(self._key(player))
        del self.entries[player]
        self.metadata.pop(player, None)

    def _key(self, player: str) -> Key:
        score, seq = self.entries[player]
        return normalise(self.order, score), seq, player

    def ordered(self) -> list[str]:
        return [key[2] for key in self._sorted]

    def ranks(self) -> dict[str, int]:
        return {player: i + 1 for i, player in enumerate(self.ordered())}

    def rank(self, player: str) -> int:
        return bisect.bisect_left(self._sorted, self._key(player)) + 1

    def score(self, player: str) -> float:
        return self.entries[player][0]
