"""The caches of the leaderboard read path: each named, bounded, and switchable off.

Each holds values keyed by names and versions, never by an object's identity, and only
saves calls, rounds or decoding: with any of them off the answers are the same
(tests/integration/leaderboards/test_caches.py compares). `LeaderboardService(...,
caches=False)` turns off the three the read path of entries uses; `BoardConfigs` (the
registry's) is off with `config_ttl_s=0`; the encoded pages' cache is the gateway's
(`gameserver/gateway/ops/leaderboards.py`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from cachetools import LRUCache

from domain.leaderboards.functions import PageSlice
from domain.leaderboards.models import Board, Page, Position

# (sorted set, cursor, limit): one sub-board's part of one page.
PartKey = tuple[str, Position | None, int]
# (board, gen, period, cursor, limit): one page.
PageKey = tuple[str, int, str, Position | None, int]
# (board, gen, period, player)
PlayerKey = tuple[str, int, str, str]


class PageParts:
    """The part of a page each sub-board last answered, by (sorted set, cursor, limit),
    with the version it was read at (`PageSlice.version`: the sub-board's last stamp
    and size). A read names the version held and the sub-board answers `SAME` while it
    is still at it, so a hot page of a quiet board sends no entries.

    Invalidated by nothing: a sub-board at another version sends its whole part, which
    replaces the one held. Bound: `size` parts, least recently used out first. Off: the
    reads name no version and every part is sent whole.
    """

    def __init__(self, size: int = 1024, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._parts: LRUCache[PartKey, PageSlice] = LRUCache(maxsize=size)

    def get(self, key: PartKey) -> PageSlice | None:
        return self._parts.get(key) if self.enabled else None

    def keep(self, key: PartKey, part: PageSlice) -> None:
        if self.enabled:
            self._parts[key] = part


class BuiltPages:
    """The last page built for (board, gen, period, cursor, limit) with the versions of
    the sub-boards' parts it was merged from. When every part comes back at those
    versions, the page is the same and is handed out again whole: no merging, no
    decoding of its entries (and the gateway sends the JSON it encoded for it).

    Invalidated by any part at another version (a write to that sub-board, or its period
    expiring: the version holds the size). Bound: `size` pages, LRU. Off: every page is
    built anew.
    """

    def __init__(self, size: int = 256, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._pages: LRUCache[PageKey, tuple[tuple[bytes, ...], Page]] = LRUCache(maxsize=size)

    def get(self, key: PageKey, parts: Sequence[PageSlice]) -> Page | None:
        held = self._pages.get(key) if self.enabled else None
        if held is None or held[0] != _versions(parts):
            return None
        return held[1]

    def keep(self, key: PageKey, parts: Sequence[PageSlice], page: Page) -> None:
        if self.enabled:
            self._pages[key] = (_versions(parts), page)


def _versions(parts: Sequence[PageSlice]) -> tuple[bytes, ...]:
    return tuple(part.version for part in parts)


class KnownPositions:
    """The last position this gateway saw of each player, by (board, gen, period,
    player). A rank needs the player's position before the other sub-boards can count
    what beats it; asking them about the known position in the same round as the call
    that finds the player saves the second round whenever the player has not moved.

    A guess, checked every time: a player found elsewhere (another gateway wrote for
    them) is counted again in a second round, never ranked from the guess. Updated by
    every write and read that finds the player, dropped when one finds them absent.
    Bound: `size` players, LRU. Off: every rank on a spread board takes two rounds.
    """

    def __init__(self, size: int = 65_536, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._positions: LRUCache[PlayerKey, Position] = LRUCache(maxsize=size)

    def get(self, key: PlayerKey) -> Position | None:
        return self._positions.get(key) if self.enabled else None

    def keep(self, key: PlayerKey, position: Position) -> None:
        if self.enabled:
            self._positions[key] = position

    def forget(self, key: PlayerKey) -> None:
        self._positions.pop(key, None)


class BoardConfigs:
    """Each board as the registry last answered for its name (None: no such board), for
    `ttl_s`: a board created, reset or deleted by another gateway is seen within that
    time, and writes never act on a stale copy (each carries the board version and the
    sub-boards' fences refuse older ones).

    Invalidated by time and by `forget` (a create, reset or delete through this gateway,
    or the events of one elsewhere); a read that started before a `forget` is not kept
    after it (`epoch`). Bound: `size` names, LRU (names asked about that hold no board
    count too). Off: `ttl_s` 0, every read goes to the registry.
    """

    def __init__(self, ttl_s: float = 1.0, size: int = 4096) -> None:
        self._ttl_s = ttl_s
        self._boards: LRUCache[str, tuple[Board | None, float]] = LRUCache(maxsize=size)
        # Bumped by every `forget`: a read that started before one is not kept.
        self.epoch = 0

    def get(self, name: str) -> tuple[Board | None] | None:
        """`(board,)` while fresh (board None: no such board), else None."""
        held = self._boards.get(name)
        if held is None or held[1] <= time.monotonic():
            return None
        return (held[0],)

    def keep(self, name: str, board: Board | None, epoch: int) -> None:
        """Keep what a read that started at `epoch` found, unless forgotten since."""
        if epoch == self.epoch and self._ttl_s > 0:
            self._boards[name] = (board, time.monotonic() + self._ttl_s)

    def forget(self, name: str | None = None) -> None:
        self.epoch += 1
        if name is None:
            self._boards.clear()
        else:
            self._boards.pop(name, None)
