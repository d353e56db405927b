"""Which background loops a worker process runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from domain.matchmaking.worker import MatchmakingWorker
from gameserver.push.match_notifier import GatewayMatchNotifier
from gameserver.services import Services

WorkerLoop = Callable[[asyncio.Event], Awaitable[None]]


def build_worker_loops(services: Services, worker_id: str) -> list[WorkerLoop]:
    matchmaking = MatchmakingWorker(
        services.cluster,
        services.clock,
        GatewayMatchNotifier(services.messenger),
        worker_id,
        writes=services.settings.write_policy(),
    )
    return [matchmaking.run]
