"""Latency phases: `concurrency` asyncio tasks share `samples` calls of one operation.

Service phases call `LeaderboardService` as the gateway does (exact ranks over every
sub-board, writes with WAIT); raw phases send the one valkey-py command each operation
boils down to, on one sorted set holding the same players, at the same concurrency.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import valkey.asyncio as valkey_asyncio
from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards.service import LeaderboardService
from loadtest.board_bench.players import player_id, random_score

SERVICE = "service"
RAW = "raw valkey-py"
TOP_LIMIT = 100
AROUND_RADIUS = 5

Op = Callable[[], Awaitable[Any]]


@dataclass
class Phase:
    target: str
    operation: str
    # One operation per concurrent task (index given), and what to close afterwards.
    op_for: Callable[[int], Op]
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class PhaseResult:
    target: str
    operation: str
    concurrency: int
    ops: int
    errors: int
    error_kinds: dict[str, int]
    seconds: float
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    # Cores busy during the phase: this process, and all Valkey nodes together.
    client_cores: float
    valkey_cores: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted samples (0.0 for none)."""
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


async def _drive(
    ops: list[Op], count: int, deadline: float, latencies: list[float], errors: Counter[str]
) -> None:
    remaining = count

    async def worker(op: Op) -> None:
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            start = time.perf_counter()
            try:
                await op()
            except Exception as exc:  # counted and shown: a failing call is a figure too
                errors[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(worker(op) for op in ops))


async def run_phase(
    phase: Phase,
    concurrency: int,
    samples: int,
    warmup: int,
    timeout_s: float,
    valkey_cpu: Callable[[], Awaitable[float]],
) -> PhaseResult:
    ops = [phase.op_for(i) for i in range(concurrency)]
    try:
        deadline = time.monotonic() + timeout_s
        await _drive(ops, warmup, deadline, [], Counter())
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        cpu_before, client_before = await valkey_cpu(), time.process_time()
        started = time.perf_counter()
        await _drive(ops, samples, deadline, latencies, errors)
        seconds = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        cpu_used = await valkey_cpu() - cpu_before
    finally:
        for close in phase.closers:
            await close()
    ordered = sorted(latencies)
    return PhaseResult(
        target=phase.target,
        operation=phase.operation,
        concurrency=concurrency,
        ops=len(ordered),
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        seconds=round(seconds, 3),
        ops_per_s=round(len(ordered) / seconds, 1) if seconds > 0 else 0.0,
        p50_ms=round(percentile(ordered, 0.50) * 1000, 3),
        p99_ms=round(percentile(ordered, 0.99) * 1000, 3),
        max_ms=round((ordered[-1] if ordered else 0.0) * 1000, 3),
        client_cores=round(client_cpu / seconds, 2) if seconds > 0 else 0.0,
        valkey_cores=round(cpu_used / seconds, 2) if seconds > 0 else 0.0,
    )


def service_phases(
    service: LeaderboardService, board: str, players: int, rng: random.Random
) -> dict[str, Phase]:
    def some_player() -> str:
        return player_id(rng.randrange(players))

    def rank(_: int) -> Op:
        return lambda: service.rank(board, some_player())

    def top(_: int) -> Op:
        return lambda: service.top(board, TOP_LIMIT)

    def around(_: int) -> Op:
        return lambda: service.around(board, some_player(), AROUND_RADIUS)

    def submit(_: int) -> Op:
        return lambda: service.submit(board, some_player(), random_score(rng))

    return {
        "rank": Phase(SERVICE, "rank", rank),
        "top": Phase(SERVICE, f"top {TOP_LIMIT}", top),
        "around": Phase(SERVICE, f"around radius {AROUND_RADIUS}", around),
        "submit": Phase(SERVICE, "submit (WAIT 1)", submit),
    }


def raw_phases(
    raw: ValkeyCluster, key: str, players: int, rng: random.Random, wait_timeout_ms: int
) -> dict[str, Phase]:
    def some_player() -> str:
        return player_id(rng.randrange(players))

    def zrevrank(_: int) -> Op:
        return lambda: raw.zrevrank(key, some_player())

    def zrange(_: int) -> Op:
        return lambda: raw.execute_command("ZRANGE", key, 0, TOP_LIMIT - 1, "REV", "WITHSCORES")

    def zadd(_: int) -> Op:
        return lambda: raw.zadd(key, {some_player(): random_score(rng)})

    closers: list[Callable[[], Awaitable[Any]]] = []

    def zadd_wait(_: int) -> Op:
        # WAIT counts the writes of its own connection: one direct client per task.
        primary = raw.get_node_from_key(key)
        if primary is None:
            raise RuntimeError(f"no primary serves {key}")
        client: Any = valkey_asyncio.Valkey(
            host=primary.host,
            port=int(primary.port),
            username=primary.connection_kwargs.get("username"),
            password=primary.connection_kwargs.get("password"),
        )
        closers.append(client.aclose)

        async def call() -> None:
            pipe = client.pipeline(transaction=False)
            pipe.zadd(key, {some_player(): random_score(rng)})
            pipe.execute_command("WAIT", 1, wait_timeout_ms)
            _, acked = await pipe.execute()
            if int(acked) < 1:
                raise RuntimeError("no replica acknowledged the write")

        return call

    return {
        "rank": Phase(RAW, "ZREVRANK", zrevrank),
        "top": Phase(RAW, f"ZRANGE 0 {TOP_LIMIT - 1} REV WITHSCORES", zrange),
        "submit": Phase(RAW, "ZADD", zadd),
        "submit_wait": Phase(RAW, "ZADD + WAIT 1", zadd_wait, closers),
    }
