"""Typed calls of the matchmaking function library (matchmaking.lua): for each function,
a request and a reply.

A request is a frozen dataclass of the function's keys and arguments, in the order the
function's Lua header lists them; a reply's `decode` reads what the function answered.
Every key of a call shares one hash tag (store.py names them). A field is added in the
function's Lua and in its request or reply here, nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from domain.matchmaking.models import QueueConfig
from domain.storage.function_call import Applied as Applied
from domain.storage.function_call import FunctionCall, KeyCall
from domain.storage.resp import field_map, text


def _pairs(flat: Sequence[Any]) -> list[tuple[Any, Any]]:
    """A function's HGETALL reply, field/value pairs in a flat list, as pairs."""
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


# A player's pointers and history: `{p.<player>}`.


@dataclass(frozen=True, slots=True)
class ClaimPlayer(FunctionCall):
    """mm_claim_player: take the player's live-ticket pointer, noting the ticket in the
    player's history."""

    function: ClassVar[str] = "mm_claim_player"
    key_fields = ("pointer", "history")

    pointer: str
    history: str
    claim: str  # '<ticket id> <created ms>'
    ttl_ms: int
    replaceable: str  # a claim the caller found finished, or ''
    history_ms: int


@dataclass(frozen=True, slots=True)
class Holder:
    claim: str | None  # the claim holding the player; None: ours now

    @classmethod
    def decode(cls, raw: Any) -> Holder:
        return cls(text(raw) or None)


@dataclass(frozen=True, slots=True)
class NoteMatch(FunctionCall):
    """mm_note_match: point the player at the match and note it in the history."""

    function: ClassVar[str] = "mm_note_match"
    key_fields = ("pointer", "history")

    pointer: str
    history: str
    match_id: str
    in_match_ms: int
    now_ms: int
    history_ms: int


@dataclass(frozen=True, slots=True)
class ReleasePlayer(KeyCall):
    """mm_release_player: delete a player pointer if it still holds `value`."""

    function: ClassVar[str] = "mm_release_player"

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ReplaceField(KeyCall):
    """mm_replace_field: a hash field's value, if it is still the one read."""

    function: ClassVar[str] = "mm_replace_field"

    key: str
    field: str
    read: bytes
    replacement: bytes


@dataclass(frozen=True, slots=True)
class ReplaceValue(KeyCall):
    """mm_replace_value: a string's value, if it is still the one read."""

    function: ClassVar[str] = "mm_replace_value"

    key: str
    read: bytes
    replacement: bytes


# Tickets: a partition's `{<code>}`.


@dataclass(frozen=True, slots=True)
class Enqueue(FunctionCall):
    """mm_enqueue: store the ticket searching and append it to the partition's stream."""

    function: ClassVar[str] = "mm_enqueue"
    key_fields = ("ticket", "stream", "waiting")

    ticket: str
    stream: str
    waiting: str
    ticket_id: str
    created_ms: int
    now_ms: int
    claim_limit_ms: int
    data: bytes
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class Cancel(FunctionCall):
    """mm_cancel: cancel a searching ticket of `player_id`."""

    function: ClassVar[str] = "mm_cancel"
    key_fields = ("ticket", "stream", "waiting", "stats")

    ticket: str
    stream: str
    waiting: str
    stats: str
    ticket_id: str
    player_id: str


@dataclass(frozen=True, slots=True)
class Cancelled:
    state: str  # 'missing', 'forbidden', 'cancelled' or the finished state

    @classmethod
    def decode(cls, raw: Any) -> Cancelled:
        return cls(text(raw))


# A partition's worker: its lease, stream, outbox and matches.


@dataclass(frozen=True, slots=True)
class Entry:
    """A stream entry: a ticket that started searching ('j') or was cancelled ('c')."""

    entry_id: str
    kind: str
    ticket_id: str
    data: bytes | None = None
    # For a cancel, the entry id of the ticket's own join entry.
    join_id: str | None = None


def _entries(raw: Sequence[Any]) -> list[Entry]:
    out: list[Entry] = []
    for entry_id, flat in raw:
        if not flat:  # an entry deleted while pending shows up without fields
            continue
        fields = field_map(flat)
        out.append(
            Entry(
                entry_id=text(entry_id),
                kind=text(fields["k"]),
                ticket_id=text(fields["t"]),
                data=fields.get("d"),
                join_id=text(fields["s"]) if fields.get("s") else None,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class OpenBackfill:
    """A match of the partition with a backfill open: its record and the backfill."""

    match_id: str
    record: dict[str, Any]
    backfill: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReadEntries(FunctionCall):
    """mm_read: renew the lease, forget delivered outbox entries, read new entries and
    the open backfills."""

    function: ClassVar[str] = "mm_read"

    lease: str
    stream: str
    outbox: str
    backfills: str
    match_prefix: str  # a match's key without its id
    owner: str
    lease_ms: int
    group: str
    count: int
    backfill_count: int
    done_outbox: tuple[str, ...]

    def keys(self) -> tuple[str, ...]:
        return (self.lease, self.stream, self.outbox, self.backfills, self.match_prefix)

    def args(self) -> tuple[Any, ...]:
        return (
            self.owner, self.lease_ms, self.group, self.count, self.backfill_count,
            *self.done_outbox,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Entries:
    entries: list[Entry]
    open_backfills: list[OpenBackfill]

    @classmethod
    def decode(cls, raw: Any) -> Entries | None:
        """None when the lease is not ours."""
        if raw is None:
            return None
        backfills = [
            OpenBackfill(text(m), orjson.loads(data), orjson.loads(bf)) for m, data, bf in raw[1]
        ]
        return cls(_entries(raw[0]), backfills)


@dataclass(frozen=True, slots=True)
class Takeover(FunctionCall):
    """mm_takeover: claim what earlier owners read and never acknowledged."""

    function: ClassVar[str] = "mm_takeover"
    key_fields = ("lease", "stream")

    lease: str
    stream: str
    owner: str
    group: str
    count: int
    start_id: str


@dataclass(frozen=True, slots=True)
class TakenOver:
    next_start_id: str
    entries: list[Entry]

    @classmethod
    def decode(cls, raw: Any) -> TakenOver | None:
        """None when the lease is not ours."""
        return None if raw is None else cls(text(raw[0]), _entries(raw[1]))


@dataclass(frozen=True, slots=True)
class Ack(FunctionCall):
    """mm_ack: acknowledge finished entries; they leave the stream."""

    function: ClassVar[str] = "mm_ack"

    lease: str
    stream: str
    owner: str
    group: str
    entry_ids: tuple[str, ...]

    def keys(self) -> tuple[str, ...]:
        return (self.lease, self.stream)

    def args(self) -> tuple[Any, ...]:
        return (self.owner, self.group, *self.entry_ids)


@dataclass(frozen=True, slots=True)
class LeaseHeld:
    held: bool  # False: another worker holds the lease

    @classmethod
    def decode(cls, raw: Any) -> LeaseHeld:
        return cls(raw is not None)


@dataclass(frozen=True, slots=True)
class Settle(FunctionCall):
    """mm_settle: commit matches, expire tickets, queue their pushes; `plan` (JSON)
    points at `plan_keys` by their place among all the call's keys."""

    function: ClassVar[str] = "mm_settle"
    # The place (from 1, as Lua counts) of the first of `plan_keys` among the call's keys.
    first_plan_key: ClassVar[int] = 7

    lease: str
    stream: str
    waiting: str
    stats: str
    waits: str
    outbox: str
    plan_keys: tuple[str, ...]
    owner: str
    group: str
    now_ms: int
    plan: bytes

    def keys(self) -> tuple[str, ...]:
        fixed = (self.lease, self.stream, self.waiting, self.stats, self.waits, self.outbox)
        return fixed + self.plan_keys

    def args(self) -> tuple[Any, ...]:
        return (self.owner, self.group, self.now_ms, self.plan)


@dataclass(frozen=True, slots=True)
class Settled:
    # Per commit then per expiry: '' committed, 'x' expired, else the ids of tickets no
    # longer searching.
    results: list[str | list[str]]
    outbox_ids: list[str]

    @classmethod
    def decode(cls, raw: Any) -> Settled | None:
        """None when the lease is lost."""
        if raw is None:
            return None
        results: list[str | list[str]] = [
            text(r) if isinstance(r, bytes) else [text(x) for x in r] for r in raw[0]
        ]
        return cls(results, [text(x) for x in raw[1]])


@dataclass(frozen=True, slots=True)
class BackfillFill(FunctionCall):
    """mm_backfill_fill: add tickets to a match with a backfill open; `plan` (JSON)
    points at `tickets` by their place among all the call's keys."""

    function: ClassVar[str] = "mm_backfill_fill"
    # The place (from 1, as Lua counts) of the first of `tickets` among the call's keys.
    first_ticket: ClassVar[int] = 9

    lease: str
    stream: str
    waiting: str
    stats: str
    waits: str
    outbox: str
    match: str
    backfills: str
    tickets: tuple[str, ...]
    owner: str
    group: str
    now_ms: int
    plan: bytes

    def keys(self) -> tuple[str, ...]:
        fixed = (self.lease, self.stream, self.waiting, self.stats, self.waits, self.outbox)
        return (*fixed, self.match, self.backfills, *self.tickets)

    def args(self) -> tuple[Any, ...]:
        return (self.owner, self.group, self.now_ms, self.plan)


@dataclass(frozen=True, slots=True)
class Filled:
    status: str  # 'ok', 'closed' or 'gone'
    ids: list[str]  # 'ok': the outbox id; 'gone': tickets no longer searching

    @classmethod
    def decode(cls, raw: Any) -> Filled | None:
        """None when the lease is lost."""
        if raw is None:
            return None
        return cls(text(raw[0]), [text(x) for x in raw[1:]])


@dataclass(frozen=True, slots=True)
class BackfillOpen(FunctionCall):
    """mm_backfill_open: open (or replace) a backfill on a match (reply: `Applied`)."""

    function: ClassVar[str] = "mm_backfill_open"
    key_fields = ("match", "backfills")

    match: str
    backfills: str
    match_id: str
    backfill: bytes  # JSON


@dataclass(frozen=True, slots=True)
class BackfillClose(FunctionCall):
    """mm_backfill_close: close a match's backfill (reply: `Applied`)."""

    function: ClassVar[str] = "mm_backfill_close"
    key_fields = ("match", "backfills")

    match: str
    backfills: str
    match_id: str


@dataclass(frozen=True, slots=True)
class Outbox(FunctionCall):
    """mm_outbox: renew the lease and read the pushes not yet delivered."""

    function: ClassVar[str] = "mm_outbox"
    key_fields = ("lease", "outbox")

    lease: str
    outbox: str
    owner: str
    lease_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class Pushes:
    pushes: list[tuple[str, str, bytes]]  # (entry id, 'f' found or 'e' expired, payload)

    @classmethod
    def decode(cls, raw: Any) -> Pushes | None:
        """None when the lease is not ours."""
        if raw is None:
            return None
        out: list[tuple[str, str, bytes]] = []
        for entry_id, flat in raw:
            fields = field_map(flat)
            out.append((text(entry_id), text(fields["k"]), fields["d"]))
        return cls(out)


@dataclass(frozen=True, slots=True)
class LeaseRelease(KeyCall):
    """mm_lease_release: give the partition's lease up if `owner` holds it (reply:
    `Applied`)."""

    function: ClassVar[str] = "mm_lease_release"

    key: str
    owner: str


# Ratings: `{ratings}`.


@dataclass(frozen=True, slots=True)
class SaveResult(FunctionCall):
    """mm_save_result: apply a match's new ratings at once if none moved since read,
    recording the result."""

    function: ClassVar[str] = "mm_save_result"

    ratings: str
    result: str
    ttl_ms: int
    result_json: bytes
    players: tuple[str, ...]
    read: tuple[str, ...]  # each player's rating as read ('' = none yet)
    new: tuple[str, ...]  # each player's new rating, encoded

    def keys(self) -> tuple[str, ...]:
        return (self.ratings, self.result)

    def args(self) -> tuple[Any, ...]:
        n = len(self.players)
        return (self.ttl_ms, self.result_json, n, *self.players, *self.read, *self.new)


@dataclass(frozen=True, slots=True)
class Saved:
    status: int  # 1 applied, 0 rated before, 2 a rating moved meanwhile (recompute)
    result: dict[str, Any] | None  # the recorded result (None with status 2)

    @classmethod
    def decode(cls, raw: Any) -> Saved:
        status = int(raw[0])
        return cls(status, dict(orjson.loads(raw[1])) if status != 2 else None)


# The registry: `{mm}`.


@dataclass(frozen=True, slots=True)
class Heartbeat(FunctionCall):
    """mm_heartbeat: note the worker alive, forget silent ones, read the registry."""

    function: ClassVar[str] = "mm_heartbeat"
    key_fields = ("workers", "partitions", "queues")

    workers: str
    partitions: str
    queues: str
    worker_id: str
    now_ms: int
    stale_ms: int


@dataclass(frozen=True, slots=True)
class Registry:
    live_workers: int
    partitions: dict[str, tuple[str, str]]
    queues: dict[str, QueueConfig]

    @classmethod
    def decode(cls, raw: Any) -> Registry:
        live, partitions, queues = raw
        return cls(
            live_workers=int(live),
            partitions={
                text(code): (value["queue"], value["partition"])
                for code, value in ((c, orjson.loads(v)) for c, v in _pairs(partitions))
            },
            queues={text(k): QueueConfig.from_dict(orjson.loads(v)) for k, v in _pairs(queues)},
        )
