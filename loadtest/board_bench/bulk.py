"""Loading a board fast: the store's own `lb_submit` calls, pipelined per primary.

Each player becomes the FCALL that `LeaderboardStore.submit` sends for a new entry (no
metadata, no request id, no sibling sub-boards to count in): the same typed request
(`functions.Submit`), sent under the function's loaded name, so the data layout is the
service's own.
`check_matches_store` runs the store's `submit` against a recording caller and compares,
so the two cannot drift apart. The calls go in large batches on one plain connection per
primary, packed and parsed by libvalkey (valkey-py's asyncio packer costs ~30 us a call),
two batches in flight; no WAIT per call, one wait for replicas at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import libvalkey
from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards import keys
from domain.leaderboards.calls import LIBRARY_CODE
from domain.leaderboards.functions import Submit
from domain.leaderboards.models import Board
from domain.leaderboards.rules import STAMP_BYTES
from domain.leaderboards.store import LeaderboardStore
from domain.storage.function_library import FunctionLibrary
from domain.storage.shard_calls import Call, ShardCaller

# Batches a primary may hold unanswered: one running while the next is on the wire.
DEPTH = 2
QUEUED_BATCHES = 2
READ_BYTES = 1 << 18
REPLY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Batch:
    packed: bytes
    count: int


@dataclass
class LoadStats:
    calls: int = 0
    by_node: dict[str, int] = field(default_factory=dict)


class SubmitCalls:
    """The `lb_submit` call of a new entry, as `LeaderboardStore.submit` builds it."""

    def __init__(self, board: Board, period: str, ttl_s: int) -> None:
        config = board.config
        self.subs = keys.sub_boards_of(board.name, config.sub_boards)
        self._sub_boards = config.sub_boards
        self._buckets = config.buckets
        self._fixed = [
            (sub.zset(board.gen, period), sub.meta(board.gen, period), sub.state, sub.channel)
            for sub in self.subs
        ]
        self._bucket_keys = [
            [sub.bucket(board.gen, period, k) for k in range(config.buckets)] for sub in self.subs
        ]
        self._head = (board.version, config.operator, config.order)
        self._period = period
        self._ttl_s = ttl_s
        self.function = FunctionLibrary.from_source(LIBRARY_CODE).functions["lb_submit"]

    def call(self, player_id: str, value: float) -> tuple[int, tuple[Any, ...]]:
        """The player's sub-board index and the FCALL arguments."""
        index = keys.sub_board_of(player_id, self._sub_boards)
        bucket = keys.bucket_of(player_id, self._sub_boards, self._buckets)
        zset, meta, state, channel = self._fixed[index]
        version, operator, order = self._head
        submit = Submit(
            zset=zset,
            bucket=self._bucket_keys[index][bucket],
            meta=meta,
            state=state,
            version=version,
            operator=operator,
            order=order,
            player_id=player_id,
            value=value,
            metadata=None,
            ttl_s=self._ttl_s,
            channel=channel,
            period=self._period,
        )
        named = submit.keys()
        return index, ("FCALL", self.function, len(named), *named, *submit.args())


class _RecordingCaller:
    """Stands in for the store's shard caller: keeps each write, answers a new entry."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def colocated(self, route: str, keys: Sequence[str]) -> list[bool]:
        return [False] * len(keys)  # the bulk load counts in no sibling sub-board

    async def write(
        self,
        call: Call,
        wait_replicas: int,
        wait_timeout_ms: int,
        fsync: bool = False,
        *,
        idempotent: bool,
    ) -> Any:
        self.calls.append(call)
        return [b"OK", b"0", bytes(STAMP_BYTES) + b"p", None, None, 0, None, 1]


async def check_matches_store(
    cluster: ValkeyCluster,
    board: Board,
    period: str,
    ttl_s: int,
    calls: SubmitCalls,
    sample: Sequence[tuple[str, float]],
) -> None:
    """Raise unless `calls` builds exactly the store's call for every sampled player."""
    store = LeaderboardStore(ShardCaller(cluster))
    recorder = _RecordingCaller()
    store.caller = cast(ShardCaller, recorder)
    for player_id, score in sample:
        await store.submit(board, period, ttl_s, player_id, score, None, None, (0, 0, False))
        plain = recorder.calls[-1]
        stored = Call(plain.route, (plain.args[0], calls.function, *plain.args[2:]))
        index, args = calls.call(player_id, score)
        if stored.args != args or stored.route != calls.subs[index].zset(board.gen, period):
            raise RuntimeError(
                f"bulk load call differs from the store's for {player_id}:\n"
                f"store: {stored}\nbulk:  {args}"
            )


class NodeLink:
    """One plain connection to a node: packed commands out, libvalkey-parsed replies in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._parser = libvalkey.Reader()

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        timeout_s: float = 10.0,
        username: str | None = None,
        password: str | None = None,
    ) -> NodeLink:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        link = cls(reader, writer)
        if password is not None:
            auth = ("AUTH", username, password) if username else ("AUTH", password)
            await link.send(pack(auth))
            (reply,) = await link.replies(1, timeout_s)
            if reply != b"OK":
                await link.close()
                raise ConnectionError(f"{host}:{port} refused the login: {reply!r}")
        return link

    async def send(self, packed: bytes) -> None:
        self._writer.write(packed)
        await self._writer.drain()

    async def replies(self, count: int, timeout_s: float = REPLY_TIMEOUT_S) -> list[Any]:
        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while True:
            while len(out) < count and (reply := self._parser.gets()) is not False:
                out.append(reply)
            if len(out) == count:
                return out
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{count - len(out)} of {count} replies missing")
            data = await asyncio.wait_for(self._reader.read(READ_BYTES), remaining)
            if not data:
                raise ConnectionError("the node closed the connection")
            self._parser.feed(data)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


def pack(args: Sequence[Any]) -> bytes:
    return bytes(libvalkey.pack_command(tuple(args)))


async def run_batches(
    links: dict[str, NodeLink],
    batches: Iterable[dict[str, Batch]],
    check: Callable[[Any], None],
    progress: Callable[[int], None] | None = None,
) -> LoadStats:
    """Send every round of per-node batches; `check` each reply (it raises on a bad one).

    `progress` is told the number of calls queued so far after each round.
    """
    stats = LoadStats(by_node={name: 0 for name in links})
    queues: dict[str, asyncio.Queue[Batch | None]] = {
        name: asyncio.Queue(QUEUED_BATCHES) for name in links
    }

    async def pump(name: str) -> None:
        link, queue = links[name], queues[name]
        in_flight: deque[int] = deque()
        while (batch := await queue.get()) is not None:
            await link.send(batch.packed)
            in_flight.append(batch.count)
            if len(in_flight) >= DEPTH:
                for reply in await link.replies(in_flight.popleft()):
                    check(reply)
        while in_flight:
            for reply in await link.replies(in_flight.popleft()):
                check(reply)

    async def produce() -> None:
        for round_ in batches:
            for name, batch in round_.items():
                await queues[name].put(batch)
                stats.calls += batch.count
                stats.by_node[name] += batch.count
            if progress is not None:
                progress(stats.calls)
        for queue in queues.values():
            await queue.put(None)

    # A failing pump cancels the producer and the other pumps: nothing waits forever.
    try:
        async with asyncio.TaskGroup() as group:
            for name in links:
                group.create_task(pump(name))
            group.create_task(produce())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from failed
    return stats


def board_batches(
    calls: SubmitCalls,
    node_of_sub: Sequence[str],
    chunks: Iterable[list[tuple[str, float]]],
) -> Iterable[dict[str, Batch]]:
    """Per chunk of players, one batch of `lb_submit` calls per primary."""
    for chunk in chunks:
        parts: dict[str, list[bytes]] = {}
        for player_id, score in chunk:
            index, args = calls.call(player_id, score)
            parts.setdefault(node_of_sub[index], []).append(pack(args))
        yield {name: Batch(b"".join(p), len(p)) for name, p in parts.items()}


def raw_batches(
    key: str, node: str, chunks: Iterable[list[tuple[str, float]]]
) -> Iterable[dict[str, Batch]]:
    """Per chunk of players, one ZADD of all of them."""
    for chunk in chunks:
        args: list[Any] = ["ZADD", key]
        for player_id, score in chunk:
            args += [repr(score), player_id]
        yield {node: Batch(pack(args), 1)}


def check_submit_reply(reply: Any) -> None:
    if not isinstance(reply, list) or reply[0] != b"OK":
        raise RuntimeError(f"lb_submit answered {reply!r}")


def check_zadd_reply(reply: Any) -> None:
    if not isinstance(reply, int):
        raise RuntimeError(f"ZADD answered {reply!r}")
