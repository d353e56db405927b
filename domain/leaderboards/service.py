"""What the gateway and the admin API call: validated leaderboard operations, exact ranks.

A rank is 1 + the entries better than the player's position in every sub-board: the
player's own sub-board answers with the position (first round), every other sub-board
counts the entries that beat it (second round, in parallel). Pages and windows merge the
sub-boards' candidates exactly. Every input is checked before anything is sent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from domain.clock import Clock
from domain.errors import BadRequest, BoardNotFound, Conflict, PlayerNotFound, Unavailable
from domain.ids import require_id
from domain.leaderboards.caches import BuiltPages, KnownPositions, PageParts
from domain.leaderboards.codec import decode_cursor, decode_event, encode_cursor
from domain.leaderboards.functions import (
    PageSlice,
    RawEntry,
    StaleBoard,
    WriteRefused,
    raw_stored,
)
from domain.leaderboards.models import (
    DEFAULT_BOARDS,
    Board,
    BoardConfig,
    BoardListing,
    BoardSummary,
    BoardView,
    JoinResult,
    KeptPeriod,
    Page,
    PlayerRank,
    Position,
    RankedEntry,
    SubmitResult,
)
from domain.leaderboards.period_ends import PeriodEndOutbox
from domain.leaderboards.periods import (
    MAX_RESETS_PROBED,
    kept_bases,
    key_ttl_s,
    live_label,
    period_bounds,
    period_end,
    period_id,
    require_label,
)
from domain.leaderboards.ranking import Ranker, raw_to_entry
from domain.leaderboards.registry import BoardRegistry
from domain.leaderboards.rules import (
    MAX_LIMIT,
    MAX_RADIUS,
    cut_short,
    denormalise,
    encode_metadata,
    first_fetch,
    refusal_error,
    require_int,
    require_player_ids,
    require_score,
    window_refusal,
)
from domain.leaderboards.store import LeaderboardStore, encode_rules
from domain.storage.shard_calls import DEFAULT_WRITES, ShardCaller, WritePolicy

_STALE_RETRIES = 3
REQUEST_TTL_S = 24 * 3600
# Told of every refused write: (board, reason); the delivery layer counts them.
RefusalHook = Callable[[str, str], None]


class LeaderboardService:
    def __init__(
        self,
        storage: ShardCaller,
        clock: Clock,
        writes: WritePolicy = DEFAULT_WRITES,
        *,
        default_boards: Sequence[BoardConfig] = DEFAULT_BOARDS,
        config_ttl_s: float = 1.0,
        request_ttl_s: int = REQUEST_TTL_S,
        on_refused: RefusalHook | None = None,
        caches: bool = True,
    ) -> None:
        """`caches=False` turns off the read path's caches (see caches.py): the same
        answers, in more calls and rounds."""
        self._clock = clock
        self._on_refused = on_refused
        self._wait = writes.wait
        self._default_boards = tuple(default_boards)
        self._request_ttl_ms = request_ttl_s * 1000
        parts = PageParts(enabled=caches)
        self._store = LeaderboardStore(storage, page_parts=parts)
        self._registry = BoardRegistry(self._store.caller, self._wait, config_ttl_s)
        self._ranker = Ranker(self._store, KnownPositions(enabled=caches))
        # Ended periods waiting for their pushes and webhook (the worker's side).
        self.period_ends = PeriodEndOutbox(self._store.caller, self._wait)
        self._built = BuiltPages(enabled=caches)

    decode_event = staticmethod(decode_event)

    async def ensure_ready(self) -> None:
        """Load the function library on every primary; create missing default boards."""
        await self._store.load_functions()
        for config in self._default_boards:
            if await self._registry.load(config.name) is None:
                await self._registry.create(config, self._clock.now())

    # Boards.

    async def create_board(self, config: BoardConfig) -> Board:
        if not isinstance(config, BoardConfig):
            raise BadRequest("a board config is required")
        board = await self._registry.create(config, self._clock.now())
        if board is None:
            raise Conflict(f"board {config.name} exists")
        return board

    async def get_board(self, name: str) -> Board:
        board = await self._registry.get(require_id(name, "board"))
        if board is None:
            raise BoardNotFound(f"no board named {name}")
        return board

    async def list_boards(self) -> list[BoardSummary]:
        boards = await self._registry.load_all()
        now = self._clock.now()
        periods = [live_label(board, now) for board in boards]
        counts = await self._store.sizes(list(zip(boards, periods, strict=True)))
        return [
            BoardSummary(board, period, count)
            for board, period, count in zip(boards, periods, counts, strict=True)
        ]

    async def boards(self) -> list[Board]:
        """Every board, read from the registry (not the cache)."""
        return await self._registry.load_all()

    async def periods(self, name: str) -> list[KeptPeriod]:
        """The periods of the board whose entries are kept, newest first, with counts."""
        board = await self.get_board(name)
        kept = await self.kept_periods(board)
        bases = list(dict.fromkeys(label.split(".", 1)[0] for label in kept))
        # Within a period, the latest reset's label is the newest.
        labels = sorted(kept, key=lambda label: (bases.index(label.split(".")[0]), -_suffix(label)))
        counts = await self._store.sizes([(board, label) for label in labels])
        now = self._clock.now()
        live = live_label(board, now)
        found = []
        for label, count in zip(labels, counts, strict=True):
            start_at, end_at = period_bounds(board, label)
            ended = label != live or (end_at is not None and end_at <= now)
            found.append(
                KeptPeriod(label, count, start_at, end_at, live=label == live, ended=ended)
            )
        # Calendar periods that ended before the board was created never held entries.
        return [p for p in found if p.live or p.end_at is None or p.end_at > board.created_at]

    async def delete_board(self, name: str) -> None:
        await self.get_board(name)
        deleted = await self._registry.delete(name)
        if deleted is None:
            raise BoardNotFound(f"no board named {name}")
        version, board = deleted
        period = live_label(board, self._clock.now())
        await self._store.retire_period(board, period, version, None, period, self._wait)

    async def reset(self, name: str) -> str:
        """Archive the live period's entries under its label; the board's new live label."""
        board = await self.get_board(name)
        now = self._clock.now()
        base = period_id(board.config.reset, now)
        done = await self._registry.reset(name, base, now)
        if done is None:
            raise BoardNotFound(f"no board named {name}")
        version, old_period, old_count = done.version, done.old_period, done.old_count
        archived = live_label(replace(board, reset_period=old_period, reset_count=old_count), now)
        count = old_count + 1 if old_period == base else 1
        fresh = live_label(replace(board, reset_period=base, reset_count=count), now)
        retention = board.config.retention_s
        await self._store.retire_period(board, archived, version, retention, fresh, self._wait)
        return fresh

    async def channels(self, name: str) -> list[str]:
        """The shard channels of the board's change events, one per sub-board."""
        return [sub.channel for sub in self._store.subs(await self.get_board(name))]

    def invalidate(self, name: str | None = None) -> None:
        """Forget cached board configs (after a reset or delete event, say)."""
        self._registry.invalidate(name)

    async def live_period(self, name: str) -> str:
        return live_label(await self.get_board(name), self._clock.now())

    # Entries.

    async def submit(
        self,
        board: str,
        player_id: str,
        score: float,
        metadata: dict[str, Any] | None = None,
        request_id: str | None = None,
        *,
        trusted: bool = False,
    ) -> SubmitResult:
        """Apply the board's operator once (per `request_id`); wait for the replica.

        The board's rules are checked inside the write (see leaderboards.lua); a write
        that is not `trusted` (a trusted game server's) is a client write.
        """
        require_id(player_id, "player_id")
        value = require_score(score)
        raw_meta = encode_metadata(metadata)
        request = None
        if request_id is not None:
            request = (require_id(request_id, "request_id"), self._request_ttl_ms)
        found = await self.get_board(board)
        for _ in range(_STALE_RETRIES):
            now = self._clock.now()
            period, ttl = live_label(found, now), key_ttl_s(found, now)
            rules = encode_rules(found.config, not trusted, now)
            try:
                outcome = await self._store.submit(
                    found, period, ttl, player_id, value, raw_meta, request, self._wait, rules
                )
            except StaleBoard:
                found = await self._reload(board)
                continue
            except WriteRefused as refused:
                if refused.reason != "no_seat":
                    raise self._refused(found.name, refused.reason) from None
                # A capped board without joining: the first write takes a seat, then
                # goes again (a full board refuses it).
                try:
                    await self._take_seat(found, period, ttl, player_id)
                except StaleBoard:
                    found = await self._reload(board)
                continue
            rank, previous = await self._ranker.write_ranks(found, period, player_id, outcome)
            new_score = denormalise(found.config.order, outcome.new.score)
            return SubmitResult(found.name, new_score, rank, previous, outcome.changed)
        raise Unavailable(f"board {board} keeps changing; try again")

    async def join(self, board: str, player_id: str) -> JoinResult:
        """Take a seat on a board that counts its players (idempotent per player)."""
        require_id(player_id, "player_id")
        found = await self.get_board(board)
        if not found.config.takes_seats:
            raise BadRequest(f"board {board} needs no joining")
        for _ in range(_STALE_RETRIES):
            now = self._clock.now()
            closed = window_refusal(found.config, now)
            if closed is not None:
                raise self._refused(found.name, closed)
            period, ttl = live_label(found, now), key_ttl_s(found, now)
            try:
                return await self._take_seat(found, period, ttl, player_id)
            except StaleBoard:
                found = await self._reload(board)
        raise Unavailable(f"board {board} keeps changing; try again")

    async def _take_seat(self, board: Board, period: str, ttl: int, player_id: str) -> JoinResult:
        joined = await self._store.join(board, period, ttl, player_id, self._wait)
        if joined.status == "FULL":
            raise self._refused(board.name, "full")
        return JoinResult(board.name, joined.held, joined.status == "JOINED")

    def _refused(self, board: str, reason: str) -> Exception:
        if self._on_refused is not None:
            self._on_refused(board, reason)
        return refusal_error(board, reason)

    async def boards_for(self, player_id: str) -> list[BoardListing]:
        """Every board as `board.list` shows it to `player_id`, in one read round after
        the registry's."""
        require_id(player_id, "player_id")
        boards = await self._registry.load_all()
        now = self._clock.now()
        periods = [live_label(board, now) for board in boards]
        seated = [(b, p) for b, p in zip(boards, periods, strict=True) if b.config.takes_seats]
        counted = [(b, p) for b, p in zip(boards, periods, strict=True) if not b.config.takes_seats]
        sizes, seats = await asyncio.gather(
            self._store.sizes(counted), self._store.seats_of(seated, player_id)
        )
        by_name = {b.name: (n, False) for (b, _), n in zip(counted, sizes, strict=True)}
        by_name.update((b.name, s) for (b, _), s in zip(seated, seats, strict=True))
        return [
            BoardListing(board, period, period_end(board.config.reset, now), *by_name[board.name])
            for board, period in zip(boards, periods, strict=True)
        ]

    async def remove_player(self, board: str, player_id: str) -> None:
        require_id(player_id, "player_id")
        found = await self.get_board(board)
        for _ in range(_STALE_RETRIES):
            period = live_label(found, self._clock.now())
            try:
                removed = await self._store.remove(found, period, player_id, self._wait)
            except StaleBoard:
                found = await self._reload(board)
                continue
            if not removed:
                raise PlayerNotFound(f"{player_id} is not on board {board}")
            return
        raise Unavailable(f"board {board} keeps changing; try again")

    async def rank(self, board: str, player_id: str, period: str | None = None) -> RankedEntry:
        require_id(player_id, "player_id")
        found = await self.get_board(board)
        entries = await self._ranker.entries(found, self._period(found, period), [player_id])
        if not entries:
            raise PlayerNotFound(f"{player_id} is not on board {board}")
        return entries[0]

    async def players(
        self, board: str, player_ids: Sequence[str], period: str | None = None
    ) -> list[RankedEntry]:
        """The listed players that are on the board, by rank."""
        ids = require_player_ids(player_ids)
        found = await self.get_board(board)
        return await self._ranker.entries(found, self._period(found, period), ids)

    async def ranks_of(self, board: str, player_ids: Sequence[str]) -> dict[str, PlayerRank]:
        """Exact ranks and positions of many players (the push layer's re-query)."""
        ids = [require_id(player_id, "player_ids") for player_id in dict.fromkeys(player_ids)]
        found = await self.get_board(board)
        return await self._ranker.ranks(found, live_label(found, self._clock.now()), ids)

    async def count(self, board: str, period: str | None = None) -> int:
        found = await self.get_board(board)
        (size,) = await self._store.sizes([(found, self._period(found, period))])
        return size

    async def top(
        self, board: str, limit: int = 10, cursor: str | None = None, period: str | None = None
    ) -> Page:
        """A page of the board in order; `next_cursor` continues it (in the same period)."""
        limit = require_int(limit, 1, MAX_LIMIT, "limit")
        found = await self.get_board(board)
        label = self._period(found, period)
        after = None
        if cursor is not None:
            cursor_label, after = decode_cursor(found.name, cursor)
            # A cursor continues the period it was issued in. Without an explicit period
            # that must be the live one: a cursor from before a reset or a rollover would
            # page the archive as if it were the board, with ranks of entries now gone.
            if cursor_label != label and period is not None:
                raise BadRequest(f"cursor belongs to period {cursor_label}, not {label}")
            if cursor_label != label:  # no period named: the live one
                raise BadRequest(
                    f"cursor belongs to period {cursor_label}, not the live period {label} "
                    "(the board was reset or its period rolled over): start again without "
                    "a cursor"
                )
        # A share of `limit` from each sub-board first (see `first_fetch`); if every
        # share is at the version the last such page was built from, so is the page.
        fetch = first_fetch(limit, found.config.sub_boards)
        shares = await self._store.pages(found, label, after, fetch)
        key = (found.name, found.gen, label, after, limit)
        built = self._built.get(key, shares)
        if built is not None:
            return built
        slices, page = await self._completed(found, label, after, limit, fetch, shares)
        first = 1 + sum(s.better for s in slices)
        entries = [raw_to_entry(found, first + i, raw) for i, raw in enumerate(page)]
        remaining = sum(s.size - s.better for s in slices)
        more = remaining > len(page) and page
        last = raw_stored(page[-1]).position if more else None
        next_cursor = encode_cursor(found.name, label, last) if last else None
        result = Page(entries, next_cursor)
        self._built.keep(key, shares, result)
        return result

    async def _completed(
        self,
        board: Board,
        label: str,
        after: Position | None,
        limit: int,
        fetch: int,
        shares: list[PageSlice],
    ) -> tuple[list[PageSlice], list[RawEntry]]:
        """The page merged from every sub-board's share, after all of `limit` is read
        from the few whose share was not enough. Merged on the raw tuples; nothing is
        decoded here."""
        page = _merged(shares, limit)
        if fetch == limit:
            return shares, page
        remaining = [s.size - s.better for s in shares]
        short = cut_short([s.after for s in shares], remaining, page, limit, _raw_key)
        if not short:
            return shares, page
        slices = list(shares)
        again = await self._store.pages(board, label, after, limit, short)
        for index, part in zip(short, again, strict=True):
            slices[index] = part
        return slices, _merged(slices, limit)

    async def inspect(
        self, board: str, limit: int = 10, cursor: str | None = None, period: str | None = None
    ) -> BoardView:
        """The admin view: config, entries in the period and a page of them."""
        found = await self.get_board(board)
        label = self._period(found, period)
        size, page = await asyncio.gather(
            self.count(board, label), self.top(board, limit, cursor, label if period else None)
        )
        return BoardView(found, label, size, page)

    async def around(
        self, board: str, player_id: str, radius: int = 5, period: str | None = None
    ) -> list[RankedEntry]:
        """The player and up to `radius` entries either side, by rank."""
        require_id(player_id, "player_id")
        radius = require_int(radius, 0, MAX_RADIUS, "radius")
        found = await self.get_board(board)
        entries = await self._ranker.window(found, self._period(found, period), player_id, radius)
        if entries is None:
            raise PlayerNotFound(f"{player_id} is not on board {board}")
        return entries

    async def boards_of_player(self, player_id: str) -> list[tuple[str, RankedEntry]]:
        """Every board the player is on, with the player's entry (the admin player view)."""
        require_id(player_id, "player_id")
        boards = await self._registry.load_all()
        now = self._clock.now()
        found = await asyncio.gather(
            *(self._ranker.entries(b, live_label(b, now), [player_id]) for b in boards)
        )
        return [(b.name, e[0]) for b, e in zip(boards, found, strict=True) if e]

    # A player's data over every period kept (export and erase).

    async def kept_periods(self, board: Board) -> list[str]:
        """Labels of every period of `board` whose entries may still be kept, newest
        first: the live one, those a reset archived, and earlier ones in retention."""
        bases = kept_bases(board.config.reset, board.config.retention_s, self._clock.now())
        resets = {
            board.reset_period: [
                f"{board.reset_period}.{n}" for n in range(1, board.reset_count + 1)
            ]
        }
        # Resets of an earlier period are not recorded: probe each until an empty label,
        # every period's next label in one read.
        probed = [base for base in bases if base != board.reset_period]
        for n in range(1, MAX_RESETS_PROBED + 1):
            if not probed:
                break
            sizes = await self._store.sizes([(board, f"{base}.{n}") for base in probed])
            probed = [base for base, size in zip(probed, sizes, strict=True) if size]
            for base in probed:
                resets.setdefault(base, []).append(f"{base}.{n}")
        return [label for base in bases for label in (base, *resets.get(base, ()))]

    async def entries_of_player(self, player_id: str) -> list[tuple[str, str, RankedEntry]]:
        """(board, period, entry) of the player on every board and every period kept."""
        require_id(player_id, "player_id")
        boards = await self._registry.load_all()
        kept = await asyncio.gather(*(self._kept_entries(b, player_id) for b in boards))
        return [
            (board.name, label, entry)
            for board, (_, held) in zip(boards, kept, strict=True)
            for label, entry in held
        ]

    async def forget_player(self, player_id: str) -> int:
        """Remove the player from every board and every period kept, with what the boards'
        rules keep of them (attempts, seats, recent writes) and their idempotent submits'
        outcomes; entries removed."""
        require_id(player_id, "player_id")
        boards = await self._registry.load_all()
        # Boards are independent of one another: all of them at once.
        return sum(await asyncio.gather(*(self._forget_on(b, player_id) for b in boards)))

    async def _forget_on(self, board: Board, player_id: str) -> int:
        # One look for the periods kept serves both the entries and the tallies.
        labels, held = await self._kept_entries(board, player_id)
        removed = 0
        for label, _ in held:
            removed += await self._remove_fenced(board, label, player_id)
        await self._store.forget_traces(board, labels, player_id, self._wait)
        return removed

    async def _kept_entries(
        self, board: Board, player_id: str
    ) -> tuple[list[str], list[tuple[str, RankedEntry]]]:
        """The labels of the periods `board` keeps, and the player's entry in each that
        holds one."""
        labels = await self.kept_periods(board)
        entries = await asyncio.gather(
            *(self._ranker.entries(board, label, [player_id]) for label in labels)
        )
        return labels, [(label, e[0]) for label, e in zip(labels, entries, strict=True) if e]

    async def _remove_fenced(self, board: Board, label: str, player_id: str) -> int:
        for _ in range(_STALE_RETRIES):
            try:
                return int(await self._store.remove(board, label, player_id, self._wait))
            except StaleBoard:
                board = await self._reload(board.config.name)
        raise Unavailable(f"board {board.config.name} keeps changing; try again")

    def _period(self, board: Board, period: str | None) -> str:
        if period is None:
            return live_label(board, self._clock.now())
        return require_label(board, period)

    async def _reload(self, name: str) -> Board:
        board = await self._registry.load(name)
        if board is None:
            raise BoardNotFound(f"no board named {name}")
        return board


def _merged(slices: Sequence[PageSlice], limit: int) -> list[RawEntry]:
    """The exact merge of sub-boards' sorted parts, cut to `limit` (sorting ~200 tuples
    in C beats a k-way merge with a key function in Python)."""
    return sorted(itertools.chain.from_iterable(s.after for s in slices))[:limit]


def _suffix(label: str) -> int:
    _, _, resets = label.partition(".")
    return int(resets) if resets else 0


def _raw_key(raw: RawEntry) -> RawEntry:
    return raw
