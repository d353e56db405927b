"""Which background loops a worker process runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from valkey.asyncio.cluster import ValkeyCluster

from gameserver.settings import Settings

WorkerLoop = Callable[[asyncio.Event], Awaitable[None]]


def build_worker_loops(
    settings: Settings, cluster: ValkeyCluster, worker_id: str
) -> list[WorkerLoop]:
    loops: list[WorkerLoop] = []

    async def wait_for_stop(stop: asyncio.Event) -> None:
        await stop.wait()

    loops.append(wait_for_stop)
    return loops
