"""Fixtures of the leaderboard integration tests: a service on the flushed test cluster."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest_asyncio
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.leaderboards.service import LeaderboardService
from domain.storage.shard_calls import ShardCaller, WritePolicy

# A Wednesday noon, UTC, in the future so that period TTLs stay positive.
START = datetime(2031, 3, 5, 12, 0, tzinfo=UTC).timestamp()


@pytest_asyncio.fixture(loop_scope="session")
async def clock() -> FixedClock:
    return FixedClock(START)


@pytest_asyncio.fixture(loop_scope="session")
async def service(valkey: ValkeyCluster, clock: FixedClock) -> LeaderboardService:
    leaderboards = LeaderboardService(ShardCaller(valkey), clock, WritePolicy(1, 2000))
    await leaderboards.ensure_ready()
    return leaderboards


@pytest_asyncio.fixture(loop_scope="session")
async def other_gateway(valkey: ValkeyCluster, clock: FixedClock) -> LeaderboardService:
    """A second gateway's service on the same cluster: its own caches, no default boards."""
    return LeaderboardService(ShardCaller(valkey), clock, WritePolicy(1, 2000), default_boards=())
