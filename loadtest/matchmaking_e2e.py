"""Matchmaking end to end through Valkey: paced joins, the real worker, join-to-found times.

    python -m loadtest.matchmaking_e2e [--rate 2000] [--seconds 15] [--joiners 4] [--json]

Starts a six-node embedded Valkey cluster on free ports in a temporary folder (or uses
`--valkey-nodes host:port,...`), gives `rate * seconds` players random ratings
(mu ~ N(25, 5), sigma ~ U(2, 4)), then `--joiners` processes call
`MatchmakingService.join` (claims, ratings read, confirmed enqueue: what `match.join`
does behind the gateway) at `--rate` joins/s in all, at most `--in-flight` per process
at once, for `--seconds`. One `MatchmakingWorker` in this process forms, commits and
delivers the matches; its notifier records when each player's `match.found` is handed
to the push layer. Bounded: the run stops `--drain` seconds after the last join.

Reported: the join rate offered and achieved, join latency p50/p95, join-to-`match.found`
p50/p95/p99 (from the start of the join call to the push), the share of players matched,
the queue's mean |P(win) - 0.5| (fairness), and the CPU seconds of the Valkey servers,
the joiners and the worker per join. Socket and gateway costs are not in it (see
`gameserver bench` for those).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from domain.clock import SystemClock
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import QueueConfig
from domain.matchmaking.rating_store import encode_rating
from domain.matchmaking.ratings import Rating
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.store import RATINGS_KEY, MatchmakingStore
from domain.matchmaking.worker import MatchmakingWorker
from domain.storage.shard_calls import ShardCaller
from gameserver.embedded.free_ports import start_on_free_ports
from gameserver.settings import Settings, settings_from_env
from gameserver.valkey_client import connect_cluster
from loadtest.extras import require_test_extras
from loadtest.gameserver_up import valkey_servers_of

QUEUE = QueueConfig.from_dict({"name": "bench"})


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100.0 * len(ordered))) - 1]


class TimingNotifier:
    """Records when each player's `match.found` reaches the push layer (wall clock)."""

    def __init__(self) -> None:
        self.found_at: dict[str, float] = {}

    async def match_found(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        now = time.time()
        for p in player_ids:
            self.found_at.setdefault(p, now)

    async def ticket_expired(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        return None


def player_id(joiner: int, i: int) -> str:
    return f"e2e-{joiner}-{i}"


async def _join_all(
    seeds: tuple[tuple[str, int], ...], joiner: int, count: int, rate: float, in_flight: int
) -> dict[str, Any]:
    client = await connect_cluster(_cluster_settings(seeds))
    service = MatchmakingService(MatchmakingStore(ShardCaller(client)), SystemClock(), queues=())
    await service.ensure_ready()
    started: dict[str, float] = {}
    acked: dict[str, float] = {}
    errors = 0
    gate = asyncio.Semaphore(in_flight)

    async def one(p: str) -> None:
        nonlocal errors
        async with gate:
            started[p] = time.time()
            try:
                await service.join(QUEUE.name, p)
                acked[p] = time.time()
            except Exception:  # noqa: BLE001 (counted; the run goes on)
                errors += 1

    cpu0 = time.process_time()
    begin = time.monotonic()
    tasks = []
    for i in range(count):
        delay = begin + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(player_id(joiner, i))))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - begin
    await client.aclose()
    return {
        "started": started,
        "acked": acked,
        "errors": errors,
        "elapsed_s": elapsed,
        "cpu_s": time.process_time() - cpu0,
    }


def _joiner(
    seeds: tuple[tuple[str, int], ...],
    joiner: int,
    count: int,
    rate: float,
    in_flight: int,
    out: Path,
) -> None:
    result = asyncio.run(_join_all(seeds, joiner, count, rate, in_flight))
    out.write_bytes(orjson.dumps(result))


async def _seed_ratings(seeds: tuple[tuple[str, int], ...], players: list[str]) -> None:
    client = await connect_cluster(_cluster_settings(seeds))
    rnd = random.Random(1)
    for start in range(0, len(players), 1000):
        values = {
            p: encode_rating(Rating(rnd.gauss(25.0, 5.0), rnd.uniform(2.0, 4.0)))
            for p in players[start : start + 1000]
        }
        await client.hset(RATINGS_KEY, mapping=values)  # type: ignore[misc]
    service = MatchmakingService(
        MatchmakingStore(ShardCaller(client)), SystemClock(), queues=(QUEUE,)
    )
    await service.ensure_ready()
    await client.aclose()


def _finish(procs: Sequence[Any], timeout_s: float, folder: Path) -> list[dict[str, Any]]:
    """Wait for the joiners (killing any still running after `timeout_s`); their results."""
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    return [orjson.loads(path.read_bytes()) for path in sorted(folder.glob("*.json"))]


def _cpu_of(pids: Sequence[int]) -> float:
    import psutil  # a [test] extra: main() checks for it first

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


async def _run(args: argparse.Namespace, seeds: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    per_joiner = round(args.rate * args.seconds / args.joiners)
    players = [player_id(j, i) for j in range(args.joiners) for i in range(per_joiner)]
    await _seed_ratings(seeds, players)
    client = await connect_cluster(_cluster_settings(seeds))
    notifier = TimingNotifier()
    worker = MatchmakingWorker(
        MatchmakingStore(ShardCaller(client)),
        SystemClock(),
        notifier,
        "e2e-worker",
        limits=MatchmakingLimits(),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    valkey_pids = valkey_servers_of(args.data_dir) if args.data_dir else []
    valkey_cpu0 = _cpu_of(valkey_pids)
    worker_cpu0 = time.process_time()
    folder = Path(tempfile.mkdtemp(prefix="mm-e2e-"))
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_joiner,
            args=(
                seeds,
                j,
                per_joiner,
                args.rate / args.joiners,
                args.in_flight,
                folder / f"{j}.json",
            ),
        )
        for j in range(args.joiners)
    ]
    for proc in procs:
        proc.start()
    # The worker keeps ticking in this loop while a thread waits for the joiners.
    results = await asyncio.to_thread(_finish, procs, args.seconds + 60.0, folder)
    shutil.rmtree(folder, ignore_errors=True)
    started: dict[str, float] = {}
    acked: dict[str, float] = {}
    for r in results:
        started.update(r["started"])
        acked.update(r["acked"])
    drain_end = time.monotonic() + args.drain
    while time.monotonic() < drain_end:
        waiting = [p for p in acked if p not in notifier.found_at]
        # An odd player out may wait alone for its whole max wait: stop at <= 1.
        if len(waiting) <= 1:
            break
        await asyncio.sleep(0.2)
    stop.set()
    await running
    worker_cpu = time.process_time() - worker_cpu0
    valkey_cpu = _cpu_of(valkey_pids) - valkey_cpu0
    stats = next(
        q
        for q in await MatchmakingService(
            MatchmakingStore(ShardCaller(client)), SystemClock()
        ).list_queue_stats()
    )
    await client.aclose()
    waits = [notifier.found_at[p] - started[p] for p in acked if p in notifier.found_at]
    joins = [acked[p] - started[p] for p in acked]
    elapsed = max((r["elapsed_s"] for r in results), default=math.nan)
    n = max(len(acked), 1)
    return {
        "offered_joins_per_s": args.rate,
        "joins": len(acked),
        "join_errors": sum(r["errors"] for r in results),
        "achieved_joins_per_s": len(acked) / elapsed if elapsed else math.nan,
        "join_p50_ms": percentile(joins, 50) * 1000,
        "join_p95_ms": percentile(joins, 95) * 1000,
        "found_p50_ms": percentile(waits, 50) * 1000,
        "found_p95_ms": percentile(waits, 95) * 1000,
        "found_p99_ms": percentile(waits, 99) * 1000,
        "matched_share": len(waits) / n,
        "mean_win_gap": stats["mean_win_gap"],
        "valkey_cpu_ms_per_join": valkey_cpu * 1000 / n if valkey_pids else None,
        "joiner_cpu_ms_per_join": sum(r["cpu_s"] for r in results) * 1000 / n,
        "worker_cpu_ms_per_join": worker_cpu * 1000 / n,
    }


def _cluster_settings(seeds: tuple[tuple[str, int], ...]) -> Settings:
    """The seeds with the login of the environment (`VALKEY_USERNAME`, `VALKEY_PASSWORD`),
    which the joining processes inherit."""
    return settings_from_env().with_overrides(valkey_nodes=seeds)


def main(argv: Sequence[str] | None = None) -> None:
    require_test_extras("python -m loadtest.matchmaking_e2e", ("psutil",))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="joins/s in all")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--joiners", type=int, default=4, help="joining processes")
    parser.add_argument("--in-flight", type=int, default=256, help="joins at once per process")
    parser.add_argument("--drain", type=float, default=10.0, help="seconds to wait after")
    parser.add_argument("--valkey-nodes", default="", help="host:port,...; else embedded")
    parser.add_argument(
        "--cluster-dir",
        default="",
        help="with --valkey-nodes: the data dir of that cluster (`gameserver cluster up "
        "--data-dir`), whose Valkey processes' CPU is then counted",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.data_dir = None
    cluster = None
    if args.valkey_nodes:
        seeds = tuple(
            (host, int(port))
            for host, _, port in (n.rpartition(":") for n in args.valkey_nodes.split(","))
        )
        args.data_dir = Path(args.cluster_dir) if args.cluster_dir else None
    else:
        args.data_dir = Path(tempfile.mkdtemp(prefix="mm-e2e-valkey-"))
        cluster = start_on_free_ports(args.data_dir)
        seeds = tuple(cluster.seeds)
        # The embedded cluster runs with ACLs: log in as the gateways and workers do.
        login = cluster.credentials.gameserver
        os.environ.update(VALKEY_USERNAME=login.username, VALKEY_PASSWORD=login.password)
    try:
        result = asyncio.run(_run(args, seeds))
    finally:
        if cluster is not None:
            cluster.stop()
            shutil.rmtree(args.data_dir, ignore_errors=True)
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for key, value in result.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
