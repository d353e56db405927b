"""Typed calls of the leaderboards function library (leaderboards.lua): for each function,
a request and a reply.

A request is a frozen dataclass of the function's keys and arguments; `keys()` and
`args()` encode them in the order the function's Lua header lists them, and `call()`
makes the FCALL that the shard caller sends. A reply's `decode` reads what the function
answered into typed fields and raises `StaleBoard` or `WriteRefused` where it refused.
A field is added in the function's Lua and in its request or reply here, nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from domain.errors import BadRequest
from domain.leaderboards.models import Position
from domain.leaderboards.rules import (
    MAX_SCORE,
    STAMP_BYTES,
    decode_metadata,
    member_of,
    position_of,
)
from domain.storage.function_call import Applied as Applied
from domain.storage.function_call import FunctionCall


class StaleBoard(Exception):
    """The board was reset or deleted since its config was read: reload and plan again."""


class WriteRefused(Exception):
    """The write broke one of the board's rules and changed nothing; `reason` names it
    (see `REFUSALS` in rules.py)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_STALE = b"STALE"


def _raise_if_stale(raw: Any) -> None:
    if raw[0] == _STALE:
        raise StaleBoard("the board was reset or deleted since its config was read")


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _int_or_none(raw: Any) -> int | None:
    return None if raw is None else int(raw)


# Entries.


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


# An entry as a sub-board returned it: (stored score, member, meta value), decoded only
# if it makes the page. Tuples order exactly like `Position` (the member is the
# fixed-width big-endian stamp, then the ASCII player id, and members are unique), so
# pages merge by plain tuple comparison, in C.
RawEntry = tuple[float, bytes, bytes | None]


def raw_stored(raw: RawEntry) -> StoredEntry:
    return StoredEntry(position_of(raw[0], raw[1]), raw[2])


def _raw_entries(flat: Sequence[Any]) -> list[RawEntry]:
    return [(float(flat[i]), flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]


@dataclass(frozen=True)
class Submit(FunctionCall):
    """lb_submit: apply the board's operator to the player's entry, once per request id
    when one is given, after the board's rules (`encode_rules`) allowed it; counts the
    entries better than the new and the old position in each sibling sub-board."""

    function: ClassVar[str] = "lb_submit"

    zset: str
    bucket: str
    meta: str
    state: str
    version: int
    operator: str
    order: str
    player_id: str
    value: float
    metadata: bytes | None
    ttl_s: int
    channel: str
    period: str
    rules: str = ""
    tally: str = ""  # with rules
    rate: str = ""  # with rules
    request_id: str = ""  # '' = not idempotent
    requests: str = ""  # the player's hash of idempotent outcomes, with a request id
    request_ttl_ms: int = 0
    siblings: tuple[str, ...] = ()  # sorted sets of sibling sub-boards to count in

    def keys(self) -> tuple[str, ...]:
        keys: tuple[str, ...] = (self.zset, self.bucket, self.meta, self.state)
        if self.rules:
            keys += (self.tally, self.rate)
        if self.request_id:
            keys += (self.requests,)
        return keys

    def args(self) -> tuple[Any, ...]:
        return (
            self.version, self.operator, self.order, self.player_id, repr(self.value),
            _flag(self.metadata is not None), self.metadata or b"", self.ttl_s,
            self.channel, self.period, self.request_ttl_ms, repr(MAX_SCORE), self.rules,
            self.request_id, *self.siblings,
        )  # fmt: skip


@dataclass(frozen=True)
class SubmitReply:
    """What a submit did: the entry's position now and before, entries better than
    each in its own sub-board and, per sibling in the request's order, (better than the
    new position, better than the old one), None where that node did not count."""

    duplicate: bool  # the request id's first outcome, ranked as the board stands now
    changed: bool
    new: Position
    old: Position | None
    own_new: int
    own_old: int | None
    siblings: tuple[tuple[int | None, int | None], ...]

    @classmethod
    def decode(cls, raw: Any) -> SubmitReply:
        _raise_if_stale(raw)
        if raw[0] == b"RANGE":
            raise BadRequest("the score would leave ±2^53")
        if raw[0] == b"REFUSED":
            raise WriteRefused(raw[1].decode())
        status, new_s, new_m, old_s, old_m, own_new, own_old, changed = raw[:8]
        counted = raw[8:]
        return cls(
            duplicate=status == b"DUP",
            changed=bool(changed),
            new=position_of(float(new_s), new_m),
            old=None if old_s is None else position_of(float(old_s), old_m),
            own_new=int(own_new),
            own_old=_int_or_none(own_old),
            siblings=tuple(
                (_int_or_none(counted[i]), _int_or_none(counted[i + 1]))
                for i in range(0, len(counted), 2)
            ),
        )


@dataclass(frozen=True)
class Remove(FunctionCall):
    """lb_remove: take the player's entry (and seat mark) off the sub-board."""

    function: ClassVar[str] = "lb_remove"

    zset: str
    bucket: str
    meta: str
    state: str
    version: int
    player_id: str
    channel: str
    period: str
    tally: str = ""  # on a board that takes seats: the seat mark goes too

    def keys(self) -> tuple[str, ...]:
        keys: tuple[str, ...] = (self.zset, self.bucket, self.meta, self.state)
        return (*keys, self.tally) if self.tally else keys

    def args(self) -> tuple[Any, ...]:
        return (self.version, self.player_id, self.channel, self.period)


@dataclass(frozen=True)
class RemoveReply:
    removed: bool  # False: the player had neither an entry nor a seat mark

    @classmethod
    def decode(cls, raw: Any) -> RemoveReply:
        _raise_if_stale(raw)
        return cls(raw[0] == b"OK")


@dataclass(frozen=True)
class Join(FunctionCall):
    """lb_join: take a seat on a board that counts its players board-wide."""

    function: ClassVar[str] = "lb_join"
    key_fields = ("seats",)

    seats: str
    player_id: str
    max_players: int  # 0: no cap
    ttl_s: int


@dataclass(frozen=True)
class JoinReply:
    status: Literal["JOINED", "ALREADY", "FULL"]
    held: int  # seats held after the call

    @classmethod
    def decode(cls, raw: Any) -> JoinReply:
        status, held = raw
        return cls(status.decode(), int(held))


@dataclass(frozen=True)
class MarkSeat(FunctionCall):
    """lb_mark_seat: the seat's mark in the player's own sub-board, which lb_submit checks."""

    function: ClassVar[str] = "lb_mark_seat"
    key_fields = ("state", "tally")

    state: str
    tally: str
    version: int
    player_id: str
    ttl_s: int


@dataclass(frozen=True)
class MarkSeatReply:
    @classmethod
    def decode(cls, raw: Any) -> MarkSeatReply:
        _raise_if_stale(raw)
        return cls()


@dataclass(frozen=True)
class Positions(FunctionCall):
    """lb_positions: where each player is in a sub-board, with the entries better there
    and in each sibling sub-board (those the node serves)."""

    function: ClassVar[str] = "lb_positions"
    read_only: ClassVar[bool] = True

    zset: str
    meta: str
    state: str
    with_meta: bool
    siblings: tuple[tuple[str, str], ...]  # (sorted set, state key) of each sibling
    players: tuple[tuple[str, str], ...]  # (player id, its bucket key)

    def keys(self) -> tuple[str, ...]:
        return (self.zset, self.meta, self.state)

    def args(self) -> tuple[Any, ...]:
        pairs = (part for pair in (*self.siblings, *self.players) for part in pair)
        return (_flag(self.with_meta), len(self.siblings), *pairs)


@dataclass(frozen=True)
class PlayerPosition:
    entry: StoredEntry
    own_better: int
    # Per sibling in the request's order: entries better there, None if not counted.
    sibling_better: tuple[int | None, ...]


@dataclass(frozen=True)
class PositionsReply:
    """The stamp of the sub-board's last write (the counts reflect exactly the writes up
    to it), each sibling's (None: the node refused it), then per player in the
    request's order its position, None if absent."""

    stamp: int
    sibling_stamps: tuple[int | None, ...]
    players: tuple[PlayerPosition | None, ...]

    @classmethod
    def decode(cls, raw: Any) -> PositionsReply:
        stamp, sibling_stamps, *players = raw
        return cls(
            int(stamp),
            tuple(_int_or_none(t) for t in sibling_stamps),
            tuple(_player_position(p) if p else None for p in players),
        )


def _player_position(raw: Sequence[Any]) -> PlayerPosition:
    score, member, own, meta, counted = raw
    entry = StoredEntry(position_of(float(score), member), meta)
    return PlayerPosition(entry, int(own), tuple(_int_or_none(n) for n in counted))


@dataclass(frozen=True)
class Count(FunctionCall):
    """lb_count: entries of a sub-board better than each position."""

    function: ClassVar[str] = "lb_count"
    read_only: ClassVar[bool] = True

    zset: str
    state: str
    positions: tuple[Position, ...]

    def keys(self) -> tuple[str, ...]:
        return (self.zset, self.state)

    def args(self) -> tuple[Any, ...]:
        args: list[Any] = []
        for position in self.positions:
            args += [repr(position.score), member_of(position)]
        return tuple(args)


@dataclass(frozen=True)
class Counts:
    """One sub-board's answer to `Count`: entries better than each position, as of the
    write stamped `stamp` (the sub-board's last one when it counted)."""

    stamp: int
    better: list[int]

    @classmethod
    def decode(cls, raw: Any) -> Counts:
        return cls(int(raw[0]), [int(n) for n in raw[1:]])


@dataclass(frozen=True)
class PageRead(FunctionCall):
    """lb_page: a sub-board's part of a page, unless it still is the version `known`."""

    function: ClassVar[str] = "lb_page"
    read_only: ClassVar[bool] = True

    zset: str
    meta: str
    state: str
    limit: int
    known: bytes = b""  # the version of the part the caller holds ('' = none)
    after: Position | None = None
    with_meta: bool = True

    def keys(self) -> tuple[str, ...]:
        return (self.zset, self.meta, self.state)

    def args(self) -> tuple[Any, ...]:
        args: tuple[Any, ...] = (_flag(self.with_meta), self.limit, self.known)
        if self.after is not None:
            args += (repr(self.after.score), member_of(self.after))
        return args


@dataclass(frozen=True)
class PageSlice:
    """One sub-board's part of a page: how many are better, its size, the next entries;
    `version` names the sub-board's state it was read from (its last write's stamp and
    its size)."""

    better: int
    size: int
    after: list[RawEntry]
    version: bytes = b""

    @classmethod
    def decode(cls, raw: Any) -> PageSlice | None:
        """The part, or None when the sub-board is still at the version the call named."""
        if raw[0] == b"SAME":
            return None
        return cls(int(raw[1]), int(raw[2]), _raw_entries(raw[3:]), raw[0])


@dataclass(frozen=True)
class Window(FunctionCall):
    """lb_window: neighbours in a sub-board, of the player (`around` None) or of the
    position `around`."""

    function: ClassVar[str] = "lb_window"
    read_only: ClassVar[bool] = True

    zset: str
    bucket: str  # the player's bucket key; with `around`, any key of the slot
    meta: str
    before: int
    after: int
    player_id: str = ""
    around: Position | None = None
    with_meta: bool = True

    def keys(self) -> tuple[str, ...]:
        return (self.zset, self.bucket, self.meta)

    def args(self) -> tuple[Any, ...]:
        head = (_flag(self.with_meta), self.before, self.after)
        if self.around is None:
            return (*head, "pid", self.player_id)
        return (*head, "pos", repr(self.around.score), member_of(self.around))


@dataclass(frozen=True)
class Slice:
    """One sub-board's entries around a place: how many are better, then neighbours;
    `own` the entry the window is around (the player's, or the position's)."""

    better: int
    size: int
    before: list[RawEntry]
    after: list[RawEntry]
    own: StoredEntry | None = None

    @classmethod
    def decode(cls, raw: Any) -> Slice | None:
        """The window, or None when the player asked about has no entry."""
        if raw[0] is None:
            return None
        score, member, own_meta, better, n_before = raw[:5]
        entries = _raw_entries(raw[5:])
        n = int(n_before)
        own = StoredEntry(position_of(float(score), member), own_meta)
        return cls(int(better), 0, entries[:n], entries[n:], own)


@dataclass(frozen=True)
class Archive(FunctionCall):
    """lb_archive: fence the sub-board at `version` and keep the period for `ttl_s`."""

    function: ClassVar[str] = "lb_archive"
    key_fields = ("state", "zset", "meta", "tally")

    state: str
    zset: str
    meta: str
    tally: str
    version: int
    ttl_s: int
    buckets: int
    bucket_prefix: str
    channel: str
    new_period: str


@dataclass(frozen=True)
class Drop(FunctionCall):
    """lb_drop: fence the sub-board at `version` and drop the period now."""

    function: ClassVar[str] = "lb_drop"
    key_fields = ("state", "zset", "meta", "tally")

    state: str
    zset: str
    meta: str
    tally: str
    version: int
    buckets: int
    bucket_prefix: str
    channel: str
    period: str


# The board registry.


@dataclass(frozen=True)
class BoardCreate(FunctionCall):
    """lb_board_create: a new board's hash, unless one of that name exists."""

    function: ClassVar[str] = "lb_board_create"

    board: str
    names: str
    seq: str
    name: str
    fields: tuple[Any, ...]  # field, value, ... of the config

    def keys(self) -> tuple[str, ...]:
        return (self.board, self.names, self.seq)

    def args(self) -> tuple[Any, ...]:
        return (self.name, *self.fields)


@dataclass(frozen=True)
class BoardCreated:
    gen: int | None  # None: a board of that name exists

    @classmethod
    def decode(cls, raw: Any) -> BoardCreated:
        return cls(_int_or_none(raw))


@dataclass(frozen=True)
class BoardReset(FunctionCall):
    """lb_board_reset: a new version and label of the board; the archived label's end
    is claimed and its job put in the outbox in the same call."""

    function: ClassVar[str] = "lb_board_reset"

    board: str
    seq: str
    ended: str
    outbox: str
    period: str  # the period id now
    name: str
    now: float

    def keys(self) -> tuple[str, ...]:
        return (self.board, self.seq, self.ended, self.outbox)

    def args(self) -> tuple[Any, ...]:
        return (self.period, self.name, repr(self.now))


@dataclass(frozen=True)
class BoardResetReply:
    version: int
    old_period: str
    old_count: int

    @classmethod
    def decode(cls, raw: Any) -> BoardResetReply | None:
        """The new version and the old reset state; None when there is no such board."""
        if raw is None:
            return None
        version, old_period, old_count = raw
        return cls(int(version), (old_period or b"").decode(), int(old_count or 0))


@dataclass(frozen=True)
class BoardDelete(FunctionCall):
    """lb_board_delete: drop the board's hash, name and ended-period marks."""

    function: ClassVar[str] = "lb_board_delete"
    key_fields = ("board", "names", "seq", "ended")

    board: str
    names: str
    seq: str
    ended: str
    name: str


@dataclass(frozen=True)
class BoardDeleted:
    version: int  # the fence version that retires the board
    fields: Mapping[bytes, bytes]  # the board's hash as it was

    @classmethod
    def decode(cls, raw: Any) -> BoardDeleted | None:
        """None when there is no such board."""
        if raw is None:
            return None
        version, flat = raw
        return cls(int(version), dict(zip(flat[::2], flat[1::2], strict=True)))


# Period ends.


@dataclass(frozen=True)
class PeriodClaim(FunctionCall):
    """lb_period_claim: claim the end of period id `base` once per reason, putting its
    job in the outbox (reply: `Applied`, False if claimed before)."""

    function: ClassVar[str] = "lb_period_claim"

    ended: str
    outbox: str
    board: str
    gen: int
    base: str
    ended_at: float
    job: str  # JSON
    reason: str

    def keys(self) -> tuple[str, ...]:
        return (self.ended, self.outbox)

    def args(self) -> tuple[Any, ...]:
        return (self.board, self.gen, self.base, repr(self.ended_at), self.job, self.reason)


@dataclass(frozen=True)
class PeriodTake(FunctionCall):
    """lb_period_take: lease a job that is due and not leased to `worker`."""

    function: ClassVar[str] = "lb_period_take"

    outbox: str
    now: float
    lease_s: float
    worker: str

    def keys(self) -> tuple[str, ...]:
        return (self.outbox,)

    def args(self) -> tuple[Any, ...]:
        return (repr(self.now), repr(self.lease_s), self.worker)


@dataclass(frozen=True)
class PeriodTaken:
    job_id: str
    job: bytes  # JSON, the lease written in

    @classmethod
    def decode(cls, raw: Any) -> PeriodTaken | None:
        """None when no job is due."""
        if not raw:
            return None
        job_id, job = raw
        return cls(job_id.decode(), job)


@dataclass(frozen=True)
class PeriodSave(FunctionCall):
    """lb_period_save: store a leased job's progress, or delete it when `job` is ''
    (reply: `Applied`, False when the lease was lost)."""

    function: ClassVar[str] = "lb_period_save"
    key_fields = ("outbox",)

    outbox: str
    job_id: str
    worker: str
    job: str
