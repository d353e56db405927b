"""Exact ranks over all sub-boards: positions from their own sub-board, counts from the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import chain

from domain.leaderboards.caches import KnownPositions
from domain.leaderboards.functions import RawEntry, Slice, StoredEntry
from domain.leaderboards.models import Board, PlayerRank, Position, RankedEntry
from domain.leaderboards.rules import STAMP_BYTES, decode_metadata, denormalise
from domain.leaderboards.store import Found, LeaderboardStore, WriteOutcome

# Positions counted per sub-board call: bounds how long one call holds a shard.
_COUNT_BATCH = 200


def to_entry(board: Board, rank: int, entry: StoredEntry) -> RankedEntry:
    position = entry.position
    score = denormalise(board.config.order, position.score)
    return RankedEntry(rank, position.player_id, score, entry.metadata, entry.updated_at)


def raw_to_entry(board: Board, rank: int, raw: RawEntry) -> RankedEntry:
    """`to_entry` straight from a sub-board's reply, without the intermediate objects
    (a page converts a hundred of these per call)."""
    score, member, meta = raw
    player_id = member[STAMP_BYTES:].decode()
    if meta:
        metadata = decode_metadata(meta[STAMP_BYTES:])
        stamp = int.from_bytes(meta[:STAMP_BYTES], "big")
    else:
        metadata, stamp = None, 0
    stamp = stamp or int.from_bytes(member[:STAMP_BYTES], "big")
    visible = denormalise(board.config.order, score)
    return RankedEntry(rank, player_id, visible, metadata, stamp / 1e6)


class Ranker:
    """Exact ranks: a player's own sub-board gives its position and the count of better
    entries there and in the sub-boards on the same primary; every other sub-board is
    asked how many of its entries beat that position.

    Asking needs the position, so it would take a second round. A player's position
    changes only by their own writes, so the last position this gateway saw is asked
    about in the first round, beside the call that finds the player; when the player
    is still there, those counts are exact and the second round is skipped.
    """

    def __init__(self, store: LeaderboardStore, known: KnownPositions | None = None) -> None:
        self._store = store
        self._known = KnownPositions() if known is None else known

    async def write_ranks(
        self, board: Board, period: str, player_id: str, outcome: WriteOutcome
    ) -> tuple[int, int | None]:
        """The rank after a write and the rank before it (None for a new entry)."""
        positions = [outcome.new] if outcome.old is None else [outcome.new, outcome.old]
        own = self._store.sub_index(board, player_id)
        counted = outcome.sibling_better
        others = {
            i: positions for i in range(board.config.sub_boards) if i != own and i not in counted
        }
        counts = await self._store.count_better(board, period, others) if others else {}
        self._known.keep((board.name, board.gen, period, player_id), outcome.new)
        rank = 1 + outcome.own_new + sum(c.better[0] for c in counts.values())
        rank += sum(new for new, _ in counted.values())
        if outcome.old is None or outcome.own_old is None:
            return rank, None
        previous = 1 + outcome.own_old + sum(c.better[1] for c in counts.values())
        return rank, previous + sum(old or 0 for _, old in counted.values())

    async def entries(
        self, board: Board, period: str, player_ids: Sequence[str]
    ) -> list[RankedEntry]:
        """Entries of the players on the board, by rank."""
        found, counted = await self._find(board, period, player_ids, with_meta=True)
        ranks = await self._exact(board, period, found, counted)
        entries = [to_entry(board, ranks[pid][0], f.entry) for pid, f in found.items()]
        return sorted(entries, key=lambda entry: entry.rank)

    async def ranks(
        self, board: Board, period: str, player_ids: Sequence[str]
    ) -> dict[str, PlayerRank]:
        """Exact ranks of many players: chunks of `_COUNT_BATCH` bound each call, and go
        out together, so their calls share round trips (a push flush of thousands of
        ranks takes two rounds, not two per chunk)."""
        chunks = [
            player_ids[start : start + _COUNT_BATCH]
            for start in range(0, len(player_ids), _COUNT_BATCH)
        ]
        parts = await asyncio.gather(*(self._ranks_of(board, period, c) for c in chunks))
        return {pid: rank for part in parts for pid, rank in part.items()}

    async def _ranks_of(
        self, board: Board, period: str, player_ids: Sequence[str]
    ) -> dict[str, PlayerRank]:
        found, counted = await self._find(board, period, player_ids, with_meta=False)
        ranks = await self._exact(board, period, found, counted)
        out: dict[str, PlayerRank] = {}
        for pid, f in found.items():
            position = f.entry.position
            score = denormalise(board.config.order, position.score)
            rank, stamps = ranks[pid]
            out[pid] = PlayerRank(pid, rank, score, position, period, stamps)
        return out

    async def _find(
        self, board: Board, period: str, player_ids: Sequence[str], with_meta: bool
    ) -> tuple[dict[str, Found], dict[str, dict[int, tuple[int, int]]]]:
        """Where each player is and, for players still at their last known position,
        the entries better than it in the sub-boards not on their own primary (with
        the stamp each sub-board counted at)."""
        subs = board.config.sub_boards
        guesses: dict[str, Position] = {}
        asking: dict[int, list[str]] = {}
        near_of: dict[int, set[int]] = {}
        for pid in player_ids:
            known = self._known.get((board.name, board.gen, period, pid))
            if known is None:
                continue
            guesses[pid] = known
            own = self._store.sub_index(board, pid)
            near = near_of.get(own)
            if near is None:
                near = {own, *(i for i, _, _ in self._store.siblings(board, period, own))}
                near_of[own] = near
            for index in range(subs):
                if index not in near:
                    asking.setdefault(index, []).append(pid)
        wanted = {index: [guesses[pid] for pid in pids] for index, pids in asking.items()}
        found, counts = await self._store.find_counting(
            board, period, player_ids, with_meta, wanted
        )
        for pid in player_ids:
            where = found.get(pid)
            key = (board.name, board.gen, period, pid)
            if where is None:
                self._known.forget(key)
            else:
                self._known.keep(key, where.entry.position)
        counted: dict[str, dict[int, tuple[int, int]]] = {}
        for index, pids in asking.items():
            answer = counts[index]
            for pid, number in zip(pids, answer.better, strict=True):
                where = found.get(pid)
                if where is not None and where.entry.position == guesses[pid]:
                    counted.setdefault(pid, {})[index] = (number, answer.stamp)
        return found, counted

    async def _exact(
        self,
        board: Board,
        period: str,
        found: dict[str, Found],
        counted: dict[str, dict[int, tuple[int, int]]],
    ) -> dict[str, tuple[int, dict[int, int]]]:
        """1 + entries better in the own sub-board + entries better in every other one:
        those on the same primary were counted with the position, `counted` holds
        counts already made in other sub-boards, and the rest are counted now. With
        each rank, the stamp every sub-board counted at (see `PlayerRank.stamps`)."""
        ranks: dict[str, tuple[int, dict[int, int]]] = {}
        asked: dict[int, list[str]] = {}
        for pid, where in found.items():
            own = self._store.sub_index(board, pid)
            done = {own: where.own_better, **where.sibling_better}
            stamps = dict(where.stamps)
            for index, (number, stamp) in counted.get(pid, {}).items():
                if index not in done:
                    done[index], stamps[index] = number, stamp
            ranks[pid] = (1 + sum(done.values()), stamps)
            for index in range(board.config.sub_boards):
                if index not in done:
                    asked.setdefault(index, []).append(pid)
        wanted = {i: [found[pid].entry.position for pid in ids] for i, ids in asked.items()}
        counts = await self._store.count_better(board, period, wanted) if wanted else {}
        for index, answer in counts.items():
            for pid, number in zip(asked[index], answer.better, strict=True):
                rank, stamps = ranks[pid]
                stamps[index] = answer.stamp
                ranks[pid] = (rank + number, stamps)
        return ranks

    async def window(
        self, board: Board, period: str, player_id: str, radius: int
    ) -> list[RankedEntry] | None:
        """The player's entry with up to `radius` neighbours each side; None if absent."""
        # Like a rank: the other sub-boards are asked about the player's last known
        # position in the same round; a player who moved since costs a second round.
        key = (board.name, board.gen, period, player_id)
        guess = self._known.get(key) if board.config.sub_boards > 1 else None
        found = await self._store.windows(
            board, period, player_id, radius, with_own=True, around=guess
        )
        own = found[0]
        if own is None or own.own is None:
            self._known.forget(key)
            return None
        me = own.own
        self._known.keep(key, me.position)
        if board.config.sub_boards > 1 and me.position != guess:
            found = [
                own,
                *await self._store.windows(
                    board, period, player_id, radius, with_own=False, around=me.position
                ),
            ]
        others: list[Slice] = [s for s in found[1:] if s is not None]
        slices = [own, *others]
        rank = 1 + sum(s.better for s in slices)
        # Raw tuples order like positions: sorting them merges exactly, in C.
        before = sorted(chain.from_iterable(s.before for s in slices))[-radius:] if radius else []
        after = sorted(chain.from_iterable(s.after for s in slices))[:radius]
        first = rank - len(before)
        return [
            *(raw_to_entry(board, first + i, raw) for i, raw in enumerate(before)),
            to_entry(board, rank, me),
            *(raw_to_entry(board, rank + 1 + i, raw) for i, raw in enumerate(after)),
        ]
