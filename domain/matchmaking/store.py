"""Every key name and function of matchmaking, and the store every matchmaking call goes
through.

Hash tags decide what can change together atomically:
- `{mm}`: the registry of queues, partitions and live workers;
- `{<code>}`: one queue partition (queue + region): its lease, stream, outbox, stats,
  tickets and matches. `code` is a short hash of the partition's name, so ticket and match
  ids (`<code>.<random>`) lead to their keys and partitions spread over the shards;
- `{p.<player>}`: one player's live-ticket pointer, current match and history (the
  tickets and matches that name them, for erasure);
- `{ratings}`: every player's rating and every rated result, so one function call updates all
  players of a match at once.

Multi-key changes are functions of the `matchmaking` library (matchmaking.lua, each
`mm_<name>`), run with FCALL on the primary of their keys' slot through their typed
requests and replies (functions.py). Every call, function,
plain write or read, goes through the process's one storage object
(domain/storage/shard_calls.py) and its error model. The writes a client or a push is
told succeeded run with `confirm=True`: a WAIT on the same connection (the write policy)
must count the replicas before the call returns (docs/durability.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

from domain.storage.function_call import FunctionCall
from domain.storage.library_store import NO_WAIT, LibraryStore
from domain.storage.shard_calls import DEFAULT_WRITES, Call, ShardCaller, WritePolicy

LIBRARY_CODE = resources.files("domain.matchmaking").joinpath("matchmaking.lua").read_text()

GROUP = "workers"

QUEUES_KEY = "mm:{mm}:queues"
PARTITIONS_KEY = "mm:{mm}:partitions"
WORKERS_KEY = "mm:{mm}:workers"
RATINGS_KEY = "mm:{ratings}:r"


def partition_code(queue: str, partition: str) -> str:
    return hashlib.blake2b(f"{queue}/{partition}".encode(), digest_size=5).hexdigest()


def code_of(some_id: str) -> str | None:
    """The partition code inside a ticket or match id, or None for an id we never made."""
    code, dot, rest = some_id.partition(".")
    if not dot or not rest or len(code) != 10 or not _HEX.fullmatch(code):
        return None
    return code


_HEX = re.compile(r"[0-9a-f]+")


class PartitionKeys:
    """The keys of one queue partition; all share the hash tag `{code}`."""

    __slots__ = ("code", "lease", "stream", "waiting", "stats", "waits", "outbox", "backfills")

    def __init__(self, code: str) -> None:
        self.code = code
        base = f"mm:{{{code}}}"
        self.lease = f"{base}:lease"
        self.stream = f"{base}:s"
        self.waiting = f"{base}:w"
        self.stats = f"{base}:stats"
        self.waits = f"{base}:waits"
        self.outbox = f"{base}:out"
        # Ids of the partition's matches with an open backfill.
        self.backfills = f"{base}:bf"

    def ticket(self, ticket_id: str) -> str:
        return f"mm:{{{self.code}}}:t:{ticket_id}"

    def match(self, match_id: str) -> str:
        return f"mm:{{{self.code}}}:m:{match_id}"


def player_ticket_key(player_id: str) -> str:
    return f"mm:{{p.{player_id}}}:ticket"


def player_match_key(player_id: str) -> str:
    return f"mm:{{p.{player_id}}}:match"


def player_history_key(player_id: str) -> str:
    """Sorted set: 't:<ticket id>' and 'm:<match id>' of every ticket and match that
    names the player, scored by when the record's retention ends (ms). Only erasure
    reads it: it leads to the records other players share, to redact them."""
    return f"mm:{{p.{player_id}}}:h"


def result_key(match_id: str) -> str:
    return f"mm:{{ratings}}:res:{match_id}"


class MatchmakingStore(LibraryStore):
    """Matchmaking's calls over the shared storage: its functions (`run`), plain writes
    (`command`) and reads, each write confirmed by matchmaking's write policy when asked.

    A function missing on a node (a promoted replica, a new node) is loaded there and run
    again: it certainly did not run. Other retries depend on `idempotent`.
    """

    def __init__(self, storage: ShardCaller, *, writes: WritePolicy = DEFAULT_WRITES) -> None:
        super().__init__(storage, LIBRARY_CODE, writes)

    async def run(
        self, request: FunctionCall, *, idempotent: bool = False, confirm: bool = False
    ) -> Any:
        """Run a function of matchmaking.lua (a request of functions.py) in its keys' slot;
        with `confirm`, only once replicas have it. The caller decodes the reply."""
        return await self._write(request, idempotent=idempotent, wait=None if confirm else NO_WAIT)

    async def command(self, key: str, *args: Any, idempotent: bool, confirm: bool) -> Any:
        """A plain write command on `key`'s primary (its first argument is the command)."""
        wait = self._wait if confirm else NO_WAIT
        return await self._caller.write(Call(key, args), *wait, idempotent=idempotent)

    async def read(self, calls: Sequence[Call]) -> list[Any]:
        """Reads in one round (one batch per primary), in the order of `calls`."""
        return await self._caller.read(calls)

    async def read_one(self, key: str, *args: Any) -> Any:
        """One read command on `key`'s primary (its first argument is the command)."""
        return await self._caller.read_one(key, *args)
