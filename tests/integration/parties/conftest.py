"""Party fixtures: the service on the test cluster, with a port that records pushes."""

from __future__ import annotations

import time

import pytest
import pytest_asyncio
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.parties.service import PartyService
from domain.parties.store import PartyStore
from domain.storage.shard_calls import ShardCaller
from tests.integration.parties.helpers import RecordingEvents


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(time.time())


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest_asyncio.fixture(loop_scope="session")
async def parties(
    valkey: ValkeyCluster, clock: FixedClock, events: RecordingEvents
) -> PartyService:
    service = PartyService(PartyStore(ShardCaller(valkey)), clock, events)
    await service.ensure_ready()
    return service
