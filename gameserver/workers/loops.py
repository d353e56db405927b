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
        wait_replicas=services.settings.wait_replicas,
        wait_timeout_ms=services.settings.wait_timeout_ms,
        failover_window_s=services.settings.valkey_failover_window_s,
    )
    return [matchmaking.run]
