"""The gateway against raw valkey-py, op by op, same cluster, same concurrency."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.bench import admin as admin_api
from loadtest.bench.gateway_clients import Player, close_all, open_players
from loadtest.bench.latency import PhaseResult, Samples, summarise
from loadtest.bench.loops import Operation, closed_loop, paced_loop
from loadtest.bench.processes import CpuMeter, CpuUse
from loadtest.bench.raw_clients import (
    RAW_BOARD_KEY,
    RAW_EQUIVALENTS,
    DurableWriter,
    connect_cluster,
    fill_board,
    raw_operations,
)

BENCH_BOARD = "bench"
GATEWAY = "gateway"
RAW = "raw valkey-py"


@dataclass(frozen=True)
class Target:
    url: str
    admin_key: str
    valkey_nodes: tuple[tuple[str, int], ...]
    gateway_pids: tuple[int, ...] = ()
    valkey_pids: tuple[int, ...] = ()
    client_key: str | None = None
    # The raw baseline's Valkey login (username, password); None for an open cluster.
    valkey_login: tuple[str, str] | None = None

    def meter(self) -> CpuMeter:
        return CpuMeter(self.gateway_pids, self.valkey_pids)


@dataclass(frozen=True)
class CompareConfig:
    ops: tuple[str, ...] = ("ping", "score.submit", "board.rank", "board.top")
    concurrency: int = 64
    warmup_s: float = 1.0
    duration_s: float = 5.0
    board_size: int = 10_000
    run_tag: str = "b"


@dataclass
class CompareResult:
    board: str
    board_size: int
    phases: list[PhaseResult] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    paced_submit: PhaseResult | None = None
    notes: list[str] = field(default_factory=list)


def _gateway_fields(op: str, board: str) -> Callable[[], Callable[[], dict[str, Any]]]:
    """A factory of per-player field makers (scores rise, so `best` stores every submit)."""

    def per_player() -> Callable[[], dict[str, Any]]:
        scores = itertools.count(2_000_000)
        if op == "score.submit":
            return lambda: {"board": board, "score": next(scores)}
        if op == "board.top":
            return lambda: {"board": board, "limit": 100}
        if op == "board.around":
            return lambda: {"board": board, "radius": 5}
        if op == "board.rank":
            return lambda: {"board": board}
        return dict

    return per_player


async def _op_available(player: Player, op: str, fields: dict[str, Any]) -> str | None:
    reply = await player.call(op, **fields)
    if reply.get("ok") is True:
        return None
    error = reply.get("error") or {}
    return f"{error.get('code')}: {error.get('message')}"


def _phase(
    target: str, operation: str, concurrency: int, duration_s: float, run: tuple[Samples, CpuUse]
) -> PhaseResult:
    samples, (client_cpu, gateway_cpu, valkey_cpu) = run
    result = summarise(target, operation, concurrency, duration_s, samples)
    return PhaseResult(
        **{
            **result.as_dict(),
            "client_cpu": client_cpu,
            "gateway_cpu": gateway_cpu,
            "valkey_cpu": valkey_cpu,
        }
    )


async def _fill_boards(target: Target, config: CompareConfig, result: CompareResult) -> None:
    rng = random.Random(7)
    scores = {
        f"fill-{config.run_tag}-{i}": float(rng.randrange(1_000_000))
        for i in range(config.board_size)
    }
    async with admin_api.admin_client(target.url, target.admin_key) as admin:
        problem = await admin_api.ensure_board(admin, BENCH_BOARD)
        if problem:
            result.notes.append(f"board {BENCH_BOARD!r} not created ({problem}); using 'global'")
            result.board = "global"
        accepted, refusals = await admin_api.fill_board(admin, result.board, scores)
    if accepted < len(scores):
        result.notes.append(
            f"the admin API took {accepted} of {len(scores)} fill scores (refusals such as "
            f"{refusals[:2]}); the raw board gets as many"
        )
        scores = dict(list(scores.items())[:accepted])
    result.board_size = accepted
    cluster = connect_cluster(target.valkey_nodes, target.valkey_login)
    try:
        await fill_board(cluster, scores)
    finally:
        await cluster.aclose()


async def _run_raw(
    target: Target, config: CompareConfig, op: str, members: Sequence[str]
) -> list[PhaseResult]:
    phases = []
    cluster = connect_cluster(target.valkey_nodes, target.valkey_login)
    try:
        await cluster.initialize()
        # Every caller first writes its member, so ZREVRANK finds it, as board.rank does.
        await asyncio.gather(*(cluster.zadd(RAW_BOARD_KEY, {m: 1.0}) for m in members))
        for raw_name in RAW_EQUIVALENTS[op]:
            writers: list[DurableWriter] = []
            if raw_name == "ZADD+WAIT":
                writers = [DurableWriter(cluster, member) for member in members]
                operations: list[Operation] = list(writers)
            else:
                operations = raw_operations(cluster, raw_name, members)
            run = await closed_loop(
                operations,
                warmup_s=config.warmup_s,
                duration_s=config.duration_s,
                meter=target.meter(),
            )
            for writer in writers:
                await writer.aclose()
            phases.append(_phase(RAW, raw_name, len(members), config.duration_s, run))
    finally:
        await cluster.aclose()
    return phases


async def run_compare(target: Target, config: CompareConfig) -> CompareResult:
    result = CompareResult(board=BENCH_BOARD, board_size=0)
    await _fill_boards(target, config, result)
    player_ids = [f"bench-{config.run_tag}-{i}" for i in range(config.concurrency)]
    players = await open_players(
        target.url, player_ids, client_key=target.client_key, admin_key=target.admin_key
    )
    try:
        # Each player is on the board before anyone asks for its rank.
        seeded = await asyncio.gather(
            *(p.call("score.submit", board=result.board, score=1_000_000) for p in players)
        )
        failed = [reply for reply in seeded if reply.get("ok") is not True]
        if failed:
            result.notes.append(f"{len(failed)} seeding scores failed, first: {failed[0]}")
        for op in config.ops:
            makers = _gateway_fields(op, result.board)
            problem = await _op_available(players[0], op, makers()())
            if problem:
                result.unavailable[op] = problem
                continue
            operations = [p.operation(op, makers()) for p in players]
            run = await closed_loop(
                operations,
                warmup_s=config.warmup_s,
                duration_s=config.duration_s,
                meter=target.meter(),
            )
            result.phases.append(_phase(GATEWAY, op, len(players), config.duration_s, run))
            if op in RAW_EQUIVALENTS:
                result.phases.extend(await _run_raw(target, config, op, player_ids))
        peak = next(
            (p for p in result.phases if p.target == GATEWAY and p.operation == "score.submit"),
            None,
        )
        if peak is not None and peak.ops_per_s > 0:
            rate = peak.ops_per_s / 2
            makers = _gateway_fields("score.submit", result.board)
            run = await paced_loop(
                [p.operation("score.submit", makers()) for p in players],
                rate_per_s=rate,
                warmup_s=config.warmup_s,
                duration_s=config.duration_s,
                meter=target.meter(),
            )
            result.paced_submit = _phase(
                f"{GATEWAY} at {rate:.0f}/s (half of peak)",
                "score.submit",
                len(players),
                config.duration_s,
                run,
            )
    finally:
        await close_all([p.socket for p in players])
    return result
