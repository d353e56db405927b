"""kill -9 of a worker process in the middle of matching: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import SystemClock
from domain.matchmaking.models import QueueConfig
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.store import GROUP, PartitionKeys, partition_code
from domain.matchmaking.worker import MatchmakingWorker
from gameserver.settings import Settings
from tests.cluster_helpers import eventually, login_env, service_login
from tests.integration.matchmaking.conftest import LIMITS, OPEN_WINDOW, RecordingNotifier, mm_store

ROOT = Path(__file__).resolve().parents[3]
PLAYERS = 400


async def start_worker(
    seeds: tuple[tuple[str, int], ...], worker_id: str
) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.matchmaking.worker_process",
        ",".join(f"{h}:{p}" for h, p in seeds),
        worker_id,
        cwd=ROOT,
        env={**os.environ, **login_env(Settings(valkey_nodes=seeds, **service_login(seeds)))},
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
    assert line.strip() == b"ready"
    return proc


async def pending_entries(valkey: ValkeyCluster, stream: str) -> int:
    summary = await valkey.execute_command("XPENDING", stream, GROUP)
    return int(summary[0] if isinstance(summary, list | tuple) else summary["pending"])


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


async def test_a_killed_worker_loses_no_ticket_and_doubles_no_player(
    valkey: ValkeyCluster, admin_valkey: ValkeyCluster, cluster_seeds: tuple[tuple[str, int], ...]
) -> None:
    service = MatchmakingService(
        mm_store(valkey), SystemClock(), queues=(QueueConfig("crash", window=OPEN_WINDOW),)
    )
    await service.ensure_ready()
    keys = PartitionKeys(partition_code("crash", "any"))
    tickets: dict[str, str] = {}

    async def join(players: range) -> None:
        for i in players:
            tickets[f"p{i}"] = await service.join("crash", f"p{i}")

    async def matches_made() -> int:
        return int((await service.list_queue_stats())[0]["matches"])

    proc = await start_worker(cluster_seeds, "doomed")
    joining = asyncio.create_task(join(range(PLAYERS)))
    try:
        await eventually(lambda: _at_least(matches_made, 20), timeout_s=30)
        # Freeze the worker at random moments until it is caught holding entries it read
        # and has not committed yet, and kill it right there.
        for _ in range(500):
            os.kill(proc.pid, signal.SIGSTOP)
            if await pending_entries(admin_valkey, keys.stream):
                break
            os.kill(proc.pid, signal.SIGCONT)
            await asyncio.sleep(random.uniform(0.0, 0.01))
        else:
            raise AssertionError("never caught the worker between a read and a commit")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        # The event loop may already have reaped the killed worker: a second kill of a
        # pid that is gone is no error here.
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
    assert await matches_made() < PLAYERS // 2 - 20, "the kill should land mid-way"

    notifier = RecordingNotifier()
    heir = MatchmakingWorker(mm_store(valkey), SystemClock(), notifier, "heir", limits=LIMITS)
    stop = asyncio.Event()
    running = asyncio.create_task(heir.run(stop))
    try:
        await joining

        async def all_matched() -> bool:
            return all([await service.status(t) == "matched" for t in tickets.values()])

        await eventually(all_matched, timeout_s=30)
    finally:
        joining.cancel()
        stop.set()
        await running

    matches: Counter[str] = Counter()
    for player, ticket in tickets.items():
        found = await service.ticket(ticket)
        assert found.match_id is not None
        record = await valkey.hget(PartitionKeys(keys.code).match(found.match_id), "data")
        assert record is not None and player.encode() in record
        matches[found.match_id] += 1
    assert set(matches.values()) == {2}, "every match holds exactly its two players"
    assert len(matches) == PLAYERS // 2
    assert await pending_entries(admin_valkey, keys.stream) == 0
    # The heir sent every match it made or inherited undelivered: nobody told twice.
    told = Counter(p for players, _ in notifier.found for p in players)
    assert max(told.values()) == 1
