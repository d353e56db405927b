"""The Valkey side of a board's entries: one call per sub-board, typed results.

Each read method is one parallel round (one pipeline per primary, see
domain/storage/shard_calls.py); each write is one function call plus its WAIT on one
connection. Merging the sub-boards' answers into exact ranks is the service's job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from valkey.asyncio.cluster import ValkeyCluster

from domain.errors import BadRequest
from domain.leaderboards import keys
from domain.leaderboards.calls import leaderboard_caller
from domain.leaderboards.models import RULE_FIELDS, Board, BoardConfig, Position
from domain.leaderboards.rules import (
    MAX_SCORE,
    STAMP_BYTES,
    decode_metadata,
    member_of,
    position_of,
)
from domain.storage.auto_pipeline import Wait
from domain.storage.shard_calls import Call

# Page parts kept per store, by (sorted set, cursor, limit): a sub-board that has not
# changed since answers "SAME" instead of sending them again (hot top-N reads).
_HELD_PAGES = 1024
# Which sub-boards share a primary, as the slot map said this long ago at most: a guess
# either way (see `siblings`), so it need not follow every change of the map at once.
_SIBLINGS_TTL_S = 1.0
_SIBLINGS_HELD = 4096

# (sub-board index, its sorted set, its state key) of each sibling sub-board.
Siblings = tuple[tuple[int, str, str], ...]

# The client type, for the modules of this feature that must not import valkey.
Cluster = ValkeyCluster


class StaleBoard(Exception):
    """The board was reset or deleted since its config was read: reload and plan again."""


class WriteRefused(Exception):
    """The write broke one of the board's rules and changed nothing; `reason` names it
    (see `REFUSALS` in rules.py)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode_rules(config: BoardConfig, client: bool, now: float) -> str:
    """The rules argument of lb_submit (see leaderboards.lua): `name=value` words of the
    rules set, with the write's context; '' on a board without rules."""
    if not config.has_rules:
        return ""
    words: dict[str, object] = {"client": client, "now": now, "seats": config.takes_seats}
    words.update((name, getattr(config, name)) for name in RULE_FIELDS)
    return " ".join(f"{name}={_rule_word(v)}" for name, v in words.items() if v is not None)


def _rule_word(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(value)


@dataclass(frozen=True)
class StoredEntry:
    position: Position
    # Raw meta value: the 8-byte update stamp, then metadata JSON (absent: neither).
    meta: bytes | None = None

    @property
    def metadata(self) -> dict[str, Any] | None:
        return decode_metadata(self.meta[STAMP_BYTES:]) if self.meta else None

    @property
    def updated_at(self) -> float:
        stamp = int.from_bytes(self.meta[:STAMP_BYTES], "big") if self.meta else None
        return (stamp or self.position.stamp) / 1e6


@dataclass(frozen=True)
class Found:
    entry: StoredEntry
    own_better: int  # entries better than it in its own sub-board
    # Entries better than it in the sub-boards that share its sub-board's primary, by
    # sub-board index (those the node answered for; see `LeaderboardStore.siblings`).
    sibling_better: dict[int, int]
    # By sub-board index (its own and the siblings counted): the stamp of the sub-board's
    # last write when it was read. The counts reflect exactly the writes up to it.
    stamps: dict[int, int]


@dataclass(frozen=True)
class Counts:
    """One sub-board's answer to `count_better`: entries better than each position,
    as of the write stamped `stamp` (the sub-board's last one when it counted)."""

    stamp: int
    better: list[int]


@dataclass(frozen=True)
class WriteOutcome:
    duplicate: bool
    changed: bool
    new: Position
    old: Position | None
    own_new: int
    own_old: int | None
    # By sibling sub-board index: entries better than the new and the old position.
    sibling_better: dict[int, tuple[int, int | None]]


# An entry as a sub-board returned it: (stored score, member, meta value), decoded only
# if it makes the page. Tuples order exactly like `Position` (the member is the
# fixed-width big-endian stamp, then the ASCII player id, and members are unique), so
# pages merge by plain tuple comparison, in C.
RawEntry = tuple[float, bytes, bytes | None]


@dataclass(frozen=True)
class Slice:
    """One sub-board's entries around a place: how many are better, then neighbours."""

    better: int
    size: int
    before: list[RawEntry]
    after: list[RawEntry]
    own: StoredEntry | None = None


def raw_stored(raw: RawEntry) -> StoredEntry:
    return StoredEntry(position_of(raw[0], raw[1]), raw[2])


@dataclass(frozen=True)
class PageSlice:
    """One sub-board's part of a page: how many are better, its size, the next entries;
    `version` names the sub-board's state it was read from (see lb_page)."""

    better: int
    size: int
    after: list[RawEntry]
    version: bytes = b""


class LeaderboardStore:
    def __init__(self, cluster: ValkeyCluster, failover_window_s: float = 6.0) -> None:
        self.caller = leaderboard_caller(cluster, failover_window_s)
        self._held: LRUCache[tuple[str, Position | None, int], PageSlice]
        self._held = LRUCache(maxsize=_HELD_PAGES)
        self._siblings: LRUCache[tuple[str, int, str, int], tuple[float, Siblings]]
        self._siblings = LRUCache(maxsize=_SIBLINGS_HELD)

    def subs(self, board: Board) -> tuple[keys.SubBoardKeys, ...]:
        return keys.sub_boards_of(board.name, board.config.sub_boards)

    def sub_index(self, board: Board, player_id: str) -> int:
        return keys.sub_board_of(player_id, board.config.sub_boards)

    def siblings(self, board: Board, period: str, index: int) -> Siblings:
        """The other sub-boards (index, sorted set) that the slot map places on the
        primary of sub-board `index`. A call there counts in them too, which spares the
        second round a call to that node; one the node refuses is counted as usual."""
        key = (board.name, board.gen, period, index)
        held = self._siblings.get(key)
        now = time.monotonic()
        if held is not None and held[0] > now:
            return held[1]
        subs = self.subs(board)
        others = [
            (sub.index, sub.zset(board.gen, period), sub.state)
            for sub in subs
            if sub.index != index
        ]
        route = subs[index].zset(board.gen, period)
        placed = self.caller.colocated(route, [zset for _, zset, _ in others])
        found = tuple(other for other, here in zip(others, placed, strict=True) if here)
        self._siblings[key] = (now + _SIBLINGS_TTL_S, found)
        return found

    def _bucket(self, board: Board, period: str, player_id: str) -> str:
        config = board.config
        sub = self.subs(board)[self.sub_index(board, player_id)]
        bucket = keys.bucket_of(player_id, config.sub_boards, config.buckets)
        return sub.bucket(board.gen, period, bucket)

    def _entry_keys(self, board: Board, period: str, player_id: str) -> list[str]:
        sub = self.subs(board)[self.sub_index(board, player_id)]
        return [
            sub.zset(board.gen, period),
            self._bucket(board, period, player_id),
            sub.meta(board.gen, period),
            sub.state,
        ]

    async def submit(
        self,
        board: Board,
        period: str,
        ttl_s: int,
        player_id: str,
        value: float,
        metadata: bytes | None,
        request: tuple[str, int] | None,
        wait: Wait,
        rules: str = "",
    ) -> WriteOutcome:
        """Apply the board's operator; `request` is (request id, ttl ms) for idempotency,
        `rules` the board's rules as `encode_rules` wrote them (checked before writing)."""
        index = self.sub_index(board, player_id)
        sub = self.subs(board)[index]
        key_list = self._entry_keys(board, period, player_id)
        if rules:
            key_list += [sub.tally(board.gen, period), sub.rate(board.gen, player_id)]
        if request is not None:
            key_list.append(sub.requests(board.gen, player_id))
        config = board.config
        siblings = self.siblings(board, period, index)
        args = (
            board.version, config.operator, config.order, player_id, repr(value),
            "1" if metadata is not None else "0", metadata or b"", ttl_s, sub.channel,
            period, request[1] if request else 0, repr(MAX_SCORE), rules,
            request[0] if request else "", *(zset for _, zset, _ in siblings),
        )  # fmt: skip
        call = Call(sub.state, ("FCALL", "lb_submit", len(key_list), *key_list, *args))
        reply = await self.caller.write(call, *wait, idempotent=request is not None)
        if reply[0] == b"STALE":
            raise StaleBoard(board.name)
        if reply[0] == b"RANGE":
            raise BadRequest("the score would leave ±2^53")
        if reply[0] == b"REFUSED":
            raise WriteRefused(reply[1].decode())
        status, new_s, new_m, old_s, old_m, own_new, own_old, changed = reply[:8]
        counted = reply[8:]
        sibling_better = {
            sub: (int(counted[2 * i]), None if old_s is None else int(counted[2 * i + 1]))
            for i, (sub, _, _) in enumerate(siblings)
            if counted[2 * i] is not None and (old_s is None or counted[2 * i + 1] is not None)
        }
        return WriteOutcome(
            duplicate=status == b"DUP",
            changed=bool(changed),
            new=position_of(float(new_s), new_m),
            old=None if old_s is None else position_of(float(old_s), old_m),
            own_new=int(own_new),
            own_old=None if own_old is None else int(own_old),
            sibling_better=sibling_better,
        )

    async def join(
        self, board: Board, period: str, ttl_s: int, player_id: str, wait: Wait
    ) -> tuple[str, int]:
        """Take a seat board-wide, then mark it in the player's own sub-board (where the
        writing function looks): ('JOINED'|'ALREADY'|'FULL', seats held)."""
        seats = keys.seats(board.name, board.gen, period)
        cap = board.config.max_players or 0
        call = Call(seats, ("FCALL", "lb_join", 1, seats, player_id, cap, ttl_s))
        # Taking a seat twice leaves the same state: safe to retry after an unknown outcome.
        status, held = await self.caller.write(call, *wait, idempotent=True)
        if status != b"FULL":
            sub = self.subs(board)[self.sub_index(board, player_id)]
            tally = sub.tally(board.gen, period)
            args = (board.version, player_id, ttl_s)
            mark = Call(sub.state, ("FCALL", "lb_mark_seat", 2, sub.state, tally, *args))
            if (await self.caller.write(mark, *wait, idempotent=True))[0] == b"STALE":
                raise StaleBoard(board.name)
        return status.decode(), int(held)

    async def seats_of(
        self, wanted: Sequence[tuple[Board, str]], player_id: str
    ) -> list[tuple[int, bool]]:
        """For each (board, period) that takes seats: seats held, and whether the player
        holds one (its mark in the player's sub-board), in one round."""
        calls = []
        for board, period in wanted:
            seats = keys.seats(board.name, board.gen, period)
            sub = self.subs(board)[self.sub_index(board, player_id)]
            tally = sub.tally(board.gen, period)
            calls += [
                Call(seats, ("HLEN", seats)),
                Call(tally, ("HEXISTS", tally, f"j:{player_id}")),
            ]
        replies = await self.caller.read(calls) if calls else []
        return [(int(replies[i]), bool(replies[i + 1])) for i in range(0, len(replies), 2)]

    async def remove(self, board: Board, period: str, player_id: str, wait: Wait) -> bool:
        sub = self.subs(board)[self.sub_index(board, player_id)]
        key_list = self._entry_keys(board, period, player_id)
        args = (board.version, player_id, sub.channel, period)
        call = Call(sub.state, ("FCALL", "lb_remove", 4, *key_list, *args))
        # Removing twice leaves the same state: safe to retry after an unknown outcome.
        reply = await self.caller.write(call, *wait, idempotent=True)
        if reply[0] == b"STALE":
            raise StaleBoard(board.name)
        return bool(reply[0] == b"OK")

    async def forget_traces(
        self, board: Board, periods: Sequence[str], player_id: str, wait: Wait
    ) -> None:
        """Drop what a board keeps of a player beside the entries: the outcomes of their
        idempotent submits and, on a board with rules, what the rules keep (attempts,
        joined mark, seat, the last minute's writes) in every period given. Each write
        is one key's idempotent delete: erasing twice leaves the same state, so a retry
        is safe."""
        sub = self.subs(board)[self.sub_index(board, player_id)]
        requests = sub.requests(board.gen, player_id)
        calls = [Call(requests, ("DEL", requests))]
        if board.config.has_rules:
            calls.append(
                Call(sub.rate(board.gen, player_id), ("DEL", sub.rate(board.gen, player_id)))
            )
        for period in periods if board.config.has_rules else ():
            tally = sub.tally(board.gen, period)
            calls.append(Call(tally, ("HDEL", tally, f"a:{player_id}", f"j:{player_id}")))
            if board.config.takes_seats:
                seats = keys.seats(board.name, board.gen, period)
                calls.append(Call(seats, ("HDEL", seats, player_id)))
        await asyncio.gather(*(self.caller.write(c, *wait, idempotent=True) for c in calls))

    async def find(
        self, board: Board, period: str, player_ids: Sequence[str], with_meta: bool
    ) -> dict[str, Found]:
        """Where each player is; absent players are left out."""
        found, _ = await self.find_counting(board, period, player_ids, with_meta, {})
        return found

    async def find_counting(
        self,
        board: Board,
        period: str,
        player_ids: Sequence[str],
        with_meta: bool,
        counting: Mapping[int, Sequence[Position]],
    ) -> tuple[dict[str, Found], dict[int, Counts]]:
        """`find` and `count_better` in one round: where each player is, and for each
        sub-board index in `counting`, how many of its entries beat each position."""
        by_sub: dict[int, list[str]] = {}
        for player_id in player_ids:
            by_sub.setdefault(self.sub_index(board, player_id), []).append(player_id)
        subs = self.subs(board)
        calls = []
        siblings_of: list[list[int]] = []
        for index, ids in by_sub.items():
            sub = subs[index]
            zset, meta = sub.zset(board.gen, period), sub.meta(board.gen, period)
            nearby = self.siblings(board, period, index)
            siblings_of.append([sibling for sibling, _, _ in nearby])
            args: list[Any] = ["1" if with_meta else "0", len(nearby)]
            for _, sibling_zset, sibling_state in nearby:
                args += [sibling_zset, sibling_state]
            for player_id in ids:
                args += [player_id, self._bucket(board, period, player_id)]
            call = ("FCALL_RO", "lb_positions", 3, zset, meta, sub.state, *args)
            calls.append(Call(zset, call))
        calls += self._count_calls(board, period, counting)
        found: dict[str, Found] = {}
        replies = await self.caller.read(calls)
        positions = replies[: len(by_sub)]
        groups = zip(by_sub, by_sub.values(), siblings_of, positions, strict=True)
        for index, ids, siblings, reply in groups:
            head = 1 + len(siblings)
            stamps = {index: int(reply[0])}
            stamps.update(
                (sub, int(t)) for sub, t in zip(siblings, reply[1:head], strict=True) if t
            )
            width = 4 + len(siblings)
            for i, player_id in enumerate(ids):
                at = head + width * i
                score, member, own, meta_value, *counted = reply[at : at + width]
                if score is not None:
                    entry = StoredEntry(position_of(float(score), member), meta_value)
                    better = {
                        sub: int(n)
                        for sub, n in zip(siblings, counted, strict=True)
                        if n is not None
                    }
                    seen = {sub: stamps[sub] for sub in (index, *better)}
                    found[player_id] = Found(entry, int(own), better, seen)
        counts = replies[len(by_sub) :]
        return found, {i: _counts(r) for i, r in zip(counting, counts, strict=True)}

    async def count_better(
        self, board: Board, period: str, wanted: Mapping[int, Sequence[Position]]
    ) -> dict[int, Counts]:
        """For each sub-board index, how many of its entries beat each given position."""
        replies = await self.caller.read(self._count_calls(board, period, wanted))
        return {i: _counts(reply) for i, reply in zip(wanted, replies, strict=True)}

    def _count_calls(
        self, board: Board, period: str, wanted: Mapping[int, Sequence[Position]]
    ) -> list[Call]:
        subs = self.subs(board)
        calls = []
        for index, positions in wanted.items():
            args: list[Any] = []
            for position in positions:
                args += [repr(position.score), member_of(position)]
            zset = subs[index].zset(board.gen, period)
            calls.append(Call(zset, ("FCALL_RO", "lb_count", 2, zset, subs[index].state, *args)))
        return calls

    async def pages(
        self,
        board: Board,
        period: str,
        after: Position | None,
        limit: int,
        only: Sequence[int] | None = None,
    ) -> list[PageSlice]:
        """From every sub-board (or those indexed in `only`): entries at or before
        `after`, size, the next `limit`. A part read before comes back as the same
        object if its sub-board has not changed since (the sub-board only says so)."""
        subs = self.subs(board)
        calls = []
        held: list[tuple[tuple[str, Position | None, int], PageSlice | None]] = []
        for sub in subs if only is None else [subs[i] for i in only]:
            zset, meta = sub.zset(board.gen, period), sub.meta(board.gen, period)
            key = (zset, after, limit)
            known = self._held.get(key)
            held.append((key, known))
            args: list[Any] = ["1", limit, known.version if known else ""]
            if after is not None:
                args += [repr(after.score), member_of(after)]
            calls.append(Call(zset, ("FCALL_RO", "lb_page", 3, zset, meta, sub.state, *args)))
        slices = []
        for (key, known), r in zip(held, await self.caller.read(calls), strict=True):
            if r[0] == b"SAME" and known is not None:
                slices.append(known)
                continue
            part = PageSlice(int(r[1]), int(r[2]), _raw_entries(r[3:]), r[0])
            self._held[key] = part
            slices.append(part)
        return slices

    async def windows(
        self,
        board: Board,
        period: str,
        player_id: str,
        radius: int,
        *,
        with_own: bool,
        around: Position | None,
    ) -> list[Slice | None]:
        """Neighbours in each sub-board, in one round: of the player in its own (if
        `with_own`, first), then of position `around` (if given) in every other one."""
        own = self.sub_index(board, player_id)
        calls: list[Call] = []
        for sub in self.subs(board):
            if sub.index == own and not with_own or sub.index != own and around is None:
                continue
            zset, meta = sub.zset(board.gen, period), sub.meta(board.gen, period)
            where: list[Any]
            if sub.index == own:
                where = ["pid", player_id]
                bucket = self._bucket(board, period, player_id)
            else:
                assert around is not None
                where = ["pos", repr(around.score), member_of(around)]
                bucket = sub.bucket_prefix(board.gen, period)
            args = ("1", radius, radius, *where)
            call = Call(zset, ("FCALL_RO", "lb_window", 3, zset, bucket, meta, *args))
            if sub.index == own:
                calls.insert(0, call)
            else:
                calls.append(call)
        slices: list[Slice | None] = []
        for reply in await self.caller.read(calls):
            if reply[0] is None:
                slices.append(None)
                continue
            score, member, own_meta, better, n_before = reply[:5]
            entries = _raw_entries(reply[5:])
            n = int(n_before)
            me = StoredEntry(position_of(float(score), member), own_meta)
            slices.append(Slice(int(better), 0, entries[:n], entries[n:], me))
        return slices

    async def sizes(self, wanted: Sequence[tuple[Board, str]]) -> list[int]:
        """Entries of each (board, period)."""
        if not wanted:
            return []
        calls = []
        for board, period in wanted:
            for sub in self.subs(board):
                zset = sub.zset(board.gen, period)
                calls.append(Call(zset, ("ZCARD", zset)))
        counts = iter(await self.caller.read(calls))
        return [sum(int(next(counts)) for _ in self.subs(board)) for board, _ in wanted]

    async def retire_period(
        self,
        board: Board,
        period: str,
        version: int,
        ttl_s: int | None,
        new_period: str,
        wait: Wait,
    ) -> None:
        """Fence every sub-board at `version`; keep `period` for `ttl_s` (reset) or, with
        `ttl_s` None, drop it now (delete)."""
        writes = []
        if board.config.takes_seats:
            seats = keys.seats(board.name, board.gen, period)
            end = ("UNLINK", seats) if ttl_s is None else ("EXPIRE", seats, ttl_s, "NX")
            writes.append(self.caller.write(Call(seats, end), *wait, idempotent=True))
        for sub in self.subs(board):
            key_list = (
                sub.state,
                sub.zset(board.gen, period),
                sub.meta(board.gen, period),
                sub.tally(board.gen, period),
            )
            prefix = sub.bucket_prefix(board.gen, period)
            if ttl_s is None:
                function = "lb_drop"
                args: tuple[Any, ...] = (version, board.config.buckets, prefix, sub.channel, period)
            else:
                function = "lb_archive"
                args = (version, ttl_s, board.config.buckets, prefix, sub.channel, new_period)
            call = Call(sub.state, ("FCALL", function, 4, *key_list, *args))
            writes.append(self.caller.write(call, *wait, idempotent=True))
        await asyncio.gather(*writes)


def _counts(reply: Sequence[Any]) -> Counts:
    return Counts(int(reply[0]), [int(n) for n in reply[1:]])


def _raw_entries(flat: Sequence[Any]) -> list[RawEntry]:
    return [(float(flat[i]), flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
