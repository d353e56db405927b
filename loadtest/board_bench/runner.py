"""One bench run against a cluster: create a board, load it, check it, measure, clean up."""

from __future__ import annotations

import logging
import math
import random
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from valkey.asyncio.cluster import ClusterNode, ValkeyCluster

from domain.clock import SystemClock
from domain.leaderboards import keys
from domain.leaderboards.models import DEFAULT_BUCKETS, MAX_BUCKETS, BoardConfig
from domain.leaderboards.periods import key_ttl_s, live_label
from domain.leaderboards.service import LeaderboardService
from domain.storage.shard_calls import ShardCaller
from gameserver.settings import Settings
from gameserver.valkey_client import connect_cluster
from loadtest.board_bench import bulk, nodes
from loadtest.board_bench.checks import check_board
from loadtest.board_bench.phases import PhaseResult, raw_phases, run_phase, service_phases
from loadtest.board_bench.players import CHUNK, chunks
from loadtest.board_bench.report import MAX_BYTES_PER_PLAYER, comparison, memory_figures

log = logging.getLogger(__name__)

# A bucket hash must stay under hash-max-listpack-entries (512): aim well below it.
_MAX_MEAN_BUCKET = 450
_TARGET_MEAN_BUCKET = 256
_STORE_CHECK_PLAYERS = 1_000
_SYNC_TIMEOUT_S = 300.0
_PROGRESS_EVERY = 1_000_000
# The lone-request phases: one task, enough calls for a p99.
_LONE_SAMPLES = 2_000
_LONE_WARMUP = 200


@dataclass(frozen=True)
class RunConfig:
    players: int
    sub_boards: int
    buckets: int
    concurrency: int
    samples: int
    warmup: int
    seed: int
    checks: int
    phase_timeout_s: float


def buckets_for(players: int, sub_boards: int) -> int:
    """The default 4096 buckets unless that would make bucket hashes too big to stay small."""
    if players / (sub_boards * DEFAULT_BUCKETS) <= _MAX_MEAN_BUCKET:
        return DEFAULT_BUCKETS
    wanted = players / (sub_boards * _TARGET_MEAN_BUCKET)
    return min(MAX_BUCKETS, 1 << math.ceil(math.log2(wanted)))


def say(started: float, message: str) -> None:
    print(f"[{time.monotonic() - started:7.1f} s] {message}", file=sys.stderr, flush=True)


async def run_bench(
    seeds: Sequence[tuple[str, int]],
    config: RunConfig,
    remove_after: bool,
    login: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Every figure of one run; with `remove_after` the board and the raw set are deleted.

    `login` (username, password) needs every right: the bench reads INFO and CONFIG and
    writes a raw sorted set beside the board.
    """
    started = time.monotonic()
    username, password = login if login is not None else (None, None)
    settings = Settings(
        valkey_nodes=tuple(seeds), valkey_username=username, valkey_password=password
    )
    cluster = await connect_cluster(settings)
    raw = ValkeyCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in seeds],
        username=username,
        password=password,
        decode_responses=False,
    )
    try:
        await raw.initialize()
    except BaseException:
        await cluster.aclose()
        await raw.aclose()
        raise
    name = f"bench-{secrets.token_hex(4)}"
    raw_key = f"rawbench:{{z}}:{name}"
    service = LeaderboardService(
        ShardCaller(cluster),
        SystemClock(),
        settings.write_policy(),
        default_boards=(),
    )
    created = False
    try:
        await service.ensure_ready()
        await nodes.wait_replicas_synced(raw, _SYNC_TIMEOUT_S)
        before = await nodes.memory(raw)
        board = await service.create_board(
            BoardConfig(name, sub_boards=config.sub_boards, buckets=config.buckets)
        )
        created = True
        say(started, f"board {name}: {config.sub_boards} sub-boards, {config.buckets} buckets")
        load = await _load_board(raw, cluster, board, config, started)
        load["replica_sync_s"] = round(await nodes.wait_replicas_synced(raw, _SYNC_TIMEOUT_S), 2)
        after = await nodes.memory(raw)
        load_average_after = nodes.load_average()
        load.update(await _load_raw(raw, raw_key, config, started))
        await nodes.wait_replicas_synced(raw, _SYNC_TIMEOUT_S)
        check = await check_board(
            service, raw, name, raw_key, config.players, config.checks, random.Random(config.seed)
        )
        say(started, f"check: {check.as_dict()['summary']}")
        results = await _measure(service, raw, name, raw_key, config, settings, started)
        primaries = memory_figures(before.primaries, after.primaries, config.players)
        return {
            "board": name,
            "raw_key": raw_key,
            "valkey": {
                "version": await nodes.server_version(raw),
                "persistence": await nodes.persistence(raw),
            },
            "load_average_after_load": load_average_after,
            "load": load,
            "memory": {
                "primaries": primaries,
                "replicas": memory_figures(before.replicas, after.replicas, config.players),
                "target_bytes_per_player": MAX_BYTES_PER_PLAYER,
                "met": primaries["bytes_per_player"] <= MAX_BYTES_PER_PLAYER,
            },
            "check": check.as_dict(),
            "phases": [r.as_dict() for r in results.values()],
            "comparison": comparison(
                {k[1]: v for k, v in results.items() if k[0] == "service"},
                {k[1]: v for k, v in results.items() if k[0] == "raw"},
            ),
        }
    finally:
        if remove_after:
            await _remove(service, raw, name if created else None, config.sub_boards, raw_key)
        await cluster.aclose()
        await raw.aclose()


async def _load_board(
    raw: ValkeyCluster, cluster: ValkeyCluster, board: Any, config: RunConfig, started: float
) -> dict[str, Any]:
    now = time.time()
    period, ttl_s = live_label(board, now), key_ttl_s(board, now)
    calls = bulk.SubmitCalls(board, period, ttl_s)
    first = next(chunks(config.players, config.seed))[:_STORE_CHECK_PLAYERS]
    await bulk.check_matches_store(cluster, board, period, ttl_s, calls, first)
    node_of_sub = [_node(raw, sub.state).name for sub in calls.subs]
    links = await _open_links(raw, set(node_of_sub))
    marks = iter(range(_PROGRESS_EVERY, config.players, _PROGRESS_EVERY))
    mark = next(marks, None)

    def progress(done: int) -> None:
        nonlocal mark
        if mark is not None and done >= mark:
            say(started, f"queued {done:,} of {config.players:,} players")
            mark = next(marks, None)

    try:
        cpu, client, t0 = await nodes.cpu_seconds(raw), time.process_time(), time.perf_counter()
        stats = await bulk.run_batches(
            links,
            bulk.board_batches(calls, node_of_sub, chunks(config.players, config.seed)),
            bulk.check_submit_reply,
            progress,
        )
        seconds = time.perf_counter() - t0
        client_cpu, valkey_cpu = time.process_time() - client, await nodes.cpu_seconds(raw) - cpu
    finally:
        for link in links.values():
            await link.close()
    say(started, f"loaded {stats.calls:,} players in {seconds:.1f} s")
    return {
        "players": stats.calls,
        "seconds": round(seconds, 2),
        "players_per_s": round(stats.calls / seconds, 1),
        "client_cores": round(client_cpu / seconds, 2),
        "valkey_cores": round(valkey_cpu / seconds, 2),
        "by_node": stats.by_node,
        "batch_players": CHUNK,
        "batches_in_flight_per_primary": bulk.DEPTH,
    }


async def _load_raw(
    raw: ValkeyCluster, key: str, config: RunConfig, started: float
) -> dict[str, Any]:
    # The board's load can outlast a failover (a replica's full resync of a big data set
    # stalls its primary): look the raw set's primary up on a fresh slot map.
    await raw.nodes_manager.initialize()
    node = _node(raw, key)
    links = await _open_links(raw, {node.name})
    try:
        t0 = time.perf_counter()
        stats = await bulk.run_batches(
            links, bulk.raw_batches(key, node.name, chunks(config.players, config.seed)),
            bulk.check_zadd_reply,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
    finally:
        for link in links.values():
            await link.close()
    say(started, f"raw set {key}: {config.players:,} members in {seconds:.1f} s")
    return {
        "raw_seconds": round(seconds, 2),
        "raw_members_per_s": round(config.players / seconds, 1),
        "raw_zadd_calls": stats.calls,
    }


async def _measure(
    service: LeaderboardService,
    raw: ValkeyCluster,
    board: str,
    raw_key: str,
    config: RunConfig,
    settings: Settings,
    started: float,
) -> dict[tuple[str, str], PhaseResult]:
    rng = random.Random(config.seed + 1)
    mine = service_phases(service, board, config.players, rng)
    theirs = raw_phases(raw, raw_key, config.players, rng, settings.wait_timeout_ms)
    # Reads before writes; each service phase next to its raw one, so drift hits both.
    order = [
        ("service", "rank"), ("raw", "rank"), ("service", "rank_1"), ("raw", "rank_1"),
        ("service", "top"), ("raw", "top"), ("service", "around"),
        ("service", "submit"), ("raw", "submit"), ("raw", "submit_wait"),
    ]  # fmt: skip
    results: dict[tuple[str, str], PhaseResult] = {}
    for side, op in order:
        lone = op.endswith("_1")
        phase = (mine if side == "service" else theirs)[op.removesuffix("_1")]
        result = await run_phase(
            phase,
            1 if lone else config.concurrency,
            min(config.samples, _LONE_SAMPLES) if lone else config.samples,
            min(config.warmup, _LONE_WARMUP) if lone else config.warmup,
            config.phase_timeout_s,
            lambda: nodes.cpu_seconds(raw),
        )
        results[(side, op)] = result
        say(
            started,
            f"{result.target} {result.operation} x{result.concurrency}: "
            f"{result.ops_per_s:,.0f}/s, "
            f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, errors {result.errors}",
        )
    return results


def _node(raw: ValkeyCluster, key: str) -> ClusterNode:
    node = raw.get_node_from_key(key)
    if node is None:
        raise RuntimeError(f"no primary serves {key}")
    return node


async def _open_links(raw: ValkeyCluster, names: set[str]) -> dict[str, bulk.NodeLink]:
    links: dict[str, bulk.NodeLink] = {}
    try:
        for node in raw.get_primaries():
            if node.name in names:
                login = node.connection_kwargs
                links[node.name] = await bulk.NodeLink.open(
                    node.host,
                    int(node.port),
                    username=login.get("username"),
                    password=login.get("password"),
                )
    except BaseException:
        for link in links.values():
            await link.close()
        raise
    return links


async def _remove(
    service: LeaderboardService,
    raw: ValkeyCluster,
    board: str | None,
    sub_boards: int,
    raw_key: str,
) -> None:
    try:
        if board is not None:
            await service.delete_board(board)
            # The write fences outlive a deleted board; nothing writes to this one again.
            for sub in keys.sub_boards_of(board, sub_boards):
                await raw.unlink(sub.state)
        await raw.unlink(raw_key)
    except Exception as exc:  # report, but do not hide the run's own outcome
        log.warning("could not remove the bench's keys (%s, %s): %s", board, raw_key, exc)
