"""The display-name cache that board entries are named through (one per process).

A rename shows at once in the process that made it and within `ttl_s` in the others.
Entries are dropped oldest first beyond `max_size`. One clock read per batch: a top-100
page looks up 100 names per read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class NameCache:
    def __init__(
        self, ttl_s: float, max_size: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max_size = max_size
        self._monotonic = monotonic
        self._held: dict[str, tuple[str | None, float]] = {}

    def lookup(self, player_ids: Iterable[str]) -> tuple[dict[str, str | None], list[str]]:
        """(names held and fresh, ids to read)."""
        now = self._monotonic()
        found: dict[str, str | None] = {}
        missing: list[str] = []
        held = self._held
        for player_id in player_ids:
            entry = held.get(player_id)
            if entry is not None and entry[1] > now:
                found[player_id] = entry[0]
            else:
                missing.append(player_id)
        return found, missing

    def put(self, names: dict[str, str | None]) -> None:
        expires = self._monotonic() + self._ttl_s
        held = self._held
        for player_id, name in names.items():
            held.pop(player_id, None)  # re-inserted last: the dict stays in expiry order
            held[player_id] = (name, expires)
        while len(held) > self._max_size:
            del held[next(iter(held))]

    def drop(self, player_id: str) -> None:
        self._held.pop(player_id, None)
