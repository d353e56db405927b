"""Which background loops a worker process runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.store import MatchmakingStore
from domain.matchmaking.worker import MatchmakingWorker
from domain.storage.library_versions import run_heartbeats
from gameserver.push.match_notifier import GatewayMatchNotifier
from gameserver.services import Services
from gameserver.workers.allocator import HttpAllocator
from gameserver.workers.period_ends import PeriodEndWorker

WorkerLoop = Callable[[asyncio.Event], Awaitable[None]]


def build_worker_loops(services: Services, worker_id: str) -> list[WorkerLoop]:
    matchmaking = MatchmakingWorker(
        MatchmakingStore(services.storage, writes=services.settings.write_policy("matches")),
        services.clock,
        GatewayMatchNotifier(services.messenger),
        worker_id,
        limits=MatchmakingLimits(allocator_timeout_s=services.settings.allocator_timeout_s),
        allocator=HttpAllocator(),
        observer=services.metrics,
    )
    period_ends = PeriodEndWorker(
        services.leaderboards,
        services.messenger,
        services.accounts,
        services.clock,
        services.settings,
        worker_id,
    )

    async def library_heartbeats(stop: asyncio.Event) -> None:
        await run_heartbeats(services.storage, stop)

    return [matchmaking.run, period_ends.run, library_heartbeats]
