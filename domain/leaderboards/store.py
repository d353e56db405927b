"""The Valkey side of a board's entries: one call per sub-board, typed results.

Each read method is one parallel round (one pipeline per primary, see
domain/storage/shard_calls.py); each write is one function call plus its WAIT on one
connection. The calls are the typed requests and replies of functions.py. Merging the
sub-boards' answers into exact ranks is the service's job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from domain.leaderboards import keys
from domain.leaderboards.caches import PageParts
from domain.leaderboards.calls import FUNCTION_READS, LIBRARY_CODE
from domain.leaderboards.functions import (
    Archive,
    Count,
    Counts,
    Drop,
    Join,
    JoinReply,
    MarkSeat,
    MarkSeatReply,
    PageRead,
    PageSlice,
    Positions,
    PositionsReply,
    Remove,
    RemoveReply,
    Slice,
    StoredEntry,
    Submit,
    SubmitReply,
    Window,
)
from domain.leaderboards.models import RULE_FIELDS, Board, BoardConfig, Position
from domain.storage.auto_pipeline import Wait
from domain.storage.shard_calls import Call, ShardCaller

# (sub-board index, its sorted set, its state key) of each sibling sub-board.
Siblings = tuple[tuple[int, str, str], ...]


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
class WriteOutcome:
    duplicate: bool
    changed: bool
    new: Position
    old: Position | None
    own_new: int
    own_old: int | None
    # By sibling sub-board index: entries better than the new and the old position.
    sibling_better: dict[int, tuple[int, int | None]]


@lru_cache(maxsize=4096)
def _others(
    name: str, sub_boards: int, gen: int, period: str, index: int
) -> tuple[str, Siblings, tuple[str, ...]]:
    """Sub-board `index`'s sorted set, and every other sub-board's (index, sorted set,
    state key) and sorted set: names only, a pure function of its arguments."""
    subs = keys.sub_boards_of(name, sub_boards)
    others = tuple(
        (sub.index, sub.zset(gen, period), sub.state) for sub in subs if sub.index != index
    )
    return subs[index].zset(gen, period), others, tuple(zset for _, zset, _ in others)


class LeaderboardStore:
    def __init__(self, storage: ShardCaller, *, page_parts: PageParts | None = None) -> None:
        """Over the process's one `storage` (domain/storage/shard_calls.py), on which it
        keeps the leaderboards library loaded and merges its reads."""
        self._library = storage.use_library(LIBRARY_CODE, merge=FUNCTION_READS)
        self.caller = storage
        self._parts = PageParts() if page_parts is None else page_parts

    async def load_functions(self) -> None:
        """Load the leaderboards library on every primary; replicas and the AOF keep it."""
        await self.caller.load(self._library)

    def subs(self, board: Board) -> tuple[keys.SubBoardKeys, ...]:
        return keys.sub_boards_of(board.name, board.config.sub_boards)

    def sub_index(self, board: Board, player_id: str) -> int:
        return keys.sub_board_of(player_id, board.config.sub_boards)

    def siblings(self, board: Board, period: str, index: int) -> Siblings:
        """The other sub-boards (index, sorted set, state key) that the slot map places
        on the primary of sub-board `index`, as the client's map says now. A call there
        counts in them too, which spares the second round a call to that node; one the
        node refuses (the map was out of date) is counted as usual."""
        if board.config.sub_boards == 1:
            return ()
        route, others, zsets = _others(
            board.name, board.config.sub_boards, board.gen, period, index
        )
        placed = self.caller.colocated(route, zsets)
        return tuple(other for other, here in zip(others, placed, strict=True) if here)

    def _bucket(self, board: Board, period: str, player_id: str) -> str:
        config = board.config
        sub = self.subs(board)[self.sub_index(board, player_id)]
        bucket = keys.bucket_of(player_id, config.sub_boards, config.buckets)
        return sub.bucket(board.gen, period, bucket)

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
        `rules` the board's rules as `encode_rules` wrote them (checked before writing).
        Raises `StaleBoard`, `WriteRefused` or `BadRequest` (see `SubmitReply`)."""
        index = self.sub_index(board, player_id)
        sub = self.subs(board)[index]
        siblings = self.siblings(board, period, index)
        config = board.config
        call = Submit(
            zset=sub.zset(board.gen, period),
            bucket=self._bucket(board, period, player_id),
            meta=sub.meta(board.gen, period),
            state=sub.state,
            version=board.version,
            operator=config.operator,
            order=config.order,
            player_id=player_id,
            value=value,
            metadata=metadata,
            ttl_s=ttl_s,
            channel=sub.channel,
            period=period,
            rules=rules,
            tally=sub.tally(board.gen, period) if rules else "",
            rate=sub.rate(board.gen, player_id) if rules else "",
            request_id=request[0] if request else "",
            requests=sub.requests(board.gen, player_id) if request else "",
            request_ttl_ms=request[1] if request else 0,
            siblings=tuple(zset for _, zset, _ in siblings),
        )
        raw = await self.caller.write(call.call(), *wait, idempotent=request is not None)
        reply = SubmitReply.decode(raw)
        counted = zip(siblings, reply.siblings, strict=True)
        return WriteOutcome(
            duplicate=reply.duplicate,
            changed=reply.changed,
            new=reply.new,
            old=reply.old,
            own_new=reply.own_new,
            own_old=reply.own_old,
            sibling_better={
                index: (new, old)
                for (index, _, _), (new, old) in counted
                if new is not None and (reply.old is None or old is not None)
            },
        )

    async def join(
        self, board: Board, period: str, ttl_s: int, player_id: str, wait: Wait
    ) -> JoinReply:
        """Take a seat board-wide, then mark it in the player's own sub-board (where the
        writing function looks)."""
        seats = keys.seats(board.name, board.gen, period)
        join = Join(seats, player_id, board.config.max_players or 0, ttl_s)
        # Taking a seat twice leaves the same state: safe to retry after an unknown outcome.
        joined = JoinReply.decode(await self.caller.write(join.call(), *wait, idempotent=True))
        if joined.status != "FULL":
            sub = self.subs(board)[self.sub_index(board, player_id)]
            tally = sub.tally(board.gen, period)
            mark = MarkSeat(sub.state, tally, board.version, player_id, ttl_s)
            MarkSeatReply.decode(await self.caller.write(mark.call(), *wait, idempotent=True))
        return joined

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
        """Whether the player had an entry or, on a board that takes seats, a seat (both
        now removed: the seat is free for another player, the attempts used stay
        counted); raises `StaleBoard`."""
        sub = self.subs(board)[self.sub_index(board, player_id)]
        seated = board.config.takes_seats
        call = Remove(
            sub.zset(board.gen, period),
            self._bucket(board, period, player_id),
            sub.meta(board.gen, period),
            sub.state,
            board.version,
            player_id,
            sub.channel,
            period,
            tally=sub.tally(board.gen, period) if seated else "",
        )
        # Removing twice leaves the same state: safe to retry after an unknown outcome.
        raw = await self.caller.write(call.call(), *wait, idempotent=True)
        removed = RemoveReply.decode(raw).removed
        if not seated:
            return removed
        # The mark went first, so the player cannot write between the two calls; a retry
        # after a failure here still finds the seat and frees it.
        seats = keys.seats(board.name, board.gen, period)
        freed = await self.caller.write(
            Call(seats, ("HDEL", seats, player_id)), *wait, idempotent=True
        )
        return removed or bool(freed)

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
            nearby = self.siblings(board, period, index)
            siblings_of.append([sibling for sibling, _, _ in nearby])
            call = Positions(
                sub.zset(board.gen, period),
                sub.meta(board.gen, period),
                sub.state,
                with_meta,
                siblings=tuple((zset, state) for _, zset, state in nearby),
                players=tuple((pid, self._bucket(board, period, pid)) for pid in ids),
            )
            calls.append(call.call())
        calls += self._count_calls(board, period, counting)
        found: dict[str, Found] = {}
        replies = await self.caller.read(calls)
        positions = replies[: len(by_sub)]
        groups = zip(by_sub, by_sub.values(), siblings_of, positions, strict=True)
        for index, ids, siblings, raw in groups:
            reply = PositionsReply.decode(raw)
            stamps = {index: reply.stamp}
            stamps.update(
                (sub, t)
                for sub, t in zip(siblings, reply.sibling_stamps, strict=True)
                if t is not None
            )
            for player_id, where in zip(ids, reply.players, strict=True):
                if where is None:
                    continue
                better = {
                    sub: n
                    for sub, n in zip(siblings, where.sibling_better, strict=True)
                    if n is not None
                }
                seen = {sub: stamps[sub] for sub in (index, *better)}
                found[player_id] = Found(where.entry, where.own_better, better, seen)
        counts = replies[len(by_sub) :]
        return found, {i: Counts.decode(r) for i, r in zip(counting, counts, strict=True)}

    async def count_better(
        self, board: Board, period: str, wanted: Mapping[int, Sequence[Position]]
    ) -> dict[int, Counts]:
        """For each sub-board index, how many of its entries beat each given position."""
        replies = await self.caller.read(self._count_calls(board, period, wanted))
        return {i: Counts.decode(reply) for i, reply in zip(wanted, replies, strict=True)}

    def _count_calls(
        self, board: Board, period: str, wanted: Mapping[int, Sequence[Position]]
    ) -> list[Call]:
        subs = self.subs(board)
        return [
            Count(subs[i].zset(board.gen, period), subs[i].state, tuple(positions)).call()
            for i, positions in wanted.items()
        ]

    async def pages(
        self,
        board: Board,
        period: str,
        after: Position | None,
        limit: int,
        only: Sequence[int] | None = None,
    ) -> list[PageSlice]:
        """From every sub-board (or those indexed in `only`): entries at or before
        `after`, size, the next `limit`. A part held in `PageParts` is named by its
        version, and a sub-board still at that version answers only so."""
        subs = self.subs(board)
        calls = []
        held: list[tuple[tuple[str, Position | None, int], PageSlice | None]] = []
        for sub in subs if only is None else [subs[i] for i in only]:
            zset = sub.zset(board.gen, period)
            key = (zset, after, limit)
            known = self._parts.get(key)
            held.append((key, known))
            version = known.version if known else b""
            call = PageRead(zset, sub.meta(board.gen, period), sub.state, limit, version, after)
            calls.append(call.call())
        slices = []
        for (key, known), raw in zip(held, await self.caller.read(calls), strict=True):
            part = PageSlice.decode(raw)
            if part is None and known is not None:
                slices.append(known)
                continue
            if part is None:
                raise RuntimeError(f"{key[0]} answered SAME to a read that named no version")
            self._parts.keep(key, part)
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
            if sub.index == own:
                bucket = self._bucket(board, period, player_id)
                calls.insert(0, Window(zset, bucket, meta, radius, radius, player_id).call())
            else:
                # Any key of the slot: the window is around a position, not a player.
                bucket = sub.bucket_prefix(board.gen, period)
                calls.append(Window(zset, bucket, meta, radius, radius, around=around).call())
        return [Slice.decode(reply) for reply in await self.caller.read(calls)]

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
        buckets = board.config.buckets
        for sub in self.subs(board):
            zset, meta = sub.zset(board.gen, period), sub.meta(board.gen, period)
            tally, prefix = sub.tally(board.gen, period), sub.bucket_prefix(board.gen, period)
            call: Archive | Drop
            if ttl_s is None:
                call = Drop(
                    sub.state, zset, meta, tally, version, buckets, prefix, sub.channel, period
                )
            else:
                call = Archive(
                    sub.state, zset, meta, tally, version, ttl_s, buckets, prefix, sub.channel,
                    new_period,
                )  # fmt: skip
            writes.append(self.caller.write(call.call(), *wait, idempotent=True))
        await asyncio.gather(*writes)
