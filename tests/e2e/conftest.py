"""End-to-end fixtures: a real gateway in this process against the test cluster.

Each test gets an empty keyspace and a freshly started gateway, so the gateway's start-up
(default boards and queues, function libraries) and its caches begin from scratch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from valkey.asyncio.cluster import ValkeyCluster

from domain.matchmaking.store import MatchmakingStore
from domain.matchmaking.worker import MatchmakingWorker
from gameserver.push.match_notifier import GatewayMatchNotifier
from tests.allocator_stub import allocator  # noqa: F401 - a fixture both suites use
from tests.gateway_harness import Gateway, gateway_settings, running_gateway


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(
    cluster_seeds: tuple[tuple[str, int], ...], clean_valkey: ValkeyCluster
) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(cluster_seeds, "gw-a")) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def worker(gateway: Gateway) -> AsyncIterator[MatchmakingWorker]:
    """A matchmaking worker beside the gateway, pushing through its messenger."""
    services = gateway.services
    running = MatchmakingWorker(
        MatchmakingStore(services.storage),
        services.clock,
        GatewayMatchNotifier(services.messenger),
        "w-test",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    yield running
    stop.set()
    await asyncio.wait_for(task, 15)
