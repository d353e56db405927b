"""The caches of the leaderboard read path: each named, bounded, and switchable off.

Each holds values keyed by names and versions, never by an object's identity, and only
saves calls, rounds or decoding: with any of them off the answers are the same
(tests/integration/leaderboards/test_caches.py compares). `LeaderboardService(...,
caches=False)` turns the three of this module off; the board configs' cache is the
registry's (`config_ttl_s`, 0 = off) and the encoded pages' the gateway's
(`gameserver/gateway/ops/leaderboards.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

from cachetools import LRUCache

from domain.leaderboards.functions import PageSlice
from domain.leaderboards.models import Page, Position

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
