"""Matchmaking fixtures: the service and workers on the test cluster, with recording ports.

The ports (live sessions, pushes, ranked boards) are the seams to other features; here
they record what they are given. Valkey itself is always the real cluster.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
import pytest_asyncio
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import QueueConfig, SkillWindow
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.store import MatchmakingStore
from domain.matchmaking.worker import MatchmakingWorker
from domain.parties.service import PartyService
from domain.parties.store import PartyStore
from domain.storage.shard_calls import DEFAULT_WRITES, ShardCaller, WritePolicy
from tests.allocator_stub import allocator  # noqa: F401 - a fixture both suites use

LIMITS = MatchmakingLimits(lease_s=1.0, tick_s=0.05)
# A duel that matches any two players at once, for tests about the plumbing.
OPEN_WINDOW = SkillWindow(start=100.0, widen_per_s=0.0, max=100.0)


class OnlinePlayers:
    """LiveSessions: everyone is online unless taken offline."""

    def __init__(self) -> None:
        self.offline: set[str] = set()

    async def live_players(self, player_ids: Sequence[str]) -> set[str]:
        return {p for p in player_ids if p not in self.offline}


class RecordingNotifier:
    def __init__(self) -> None:
        self.found: list[tuple[list[str], dict[str, Any]]] = []
        self.expired: list[tuple[list[str], dict[str, Any]]] = []

    async def match_found(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        self.found.append((list(player_ids), event))

    async def ticket_expired(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        self.expired.append((list(player_ids), event))

    def found_for(self, player_id: str) -> list[dict[str, Any]]:
        return [event for players, event in self.found if player_id in players]


class RecordingBoards:
    def __init__(self) -> None:
        self.scores: list[tuple[str, str, float]] = []

    async def check(self, board: str) -> None:
        """Every board takes ordinals here."""

    async def submit(self, board: str, player_id: str, score: float) -> None:
        self.scores.append((board, player_id, score))


def mm_store(valkey: ValkeyCluster, writes: WritePolicy = DEFAULT_WRITES) -> MatchmakingStore:
    """Matchmaking's store over storage of its own, as a process of its own would have."""
    return MatchmakingStore(ShardCaller(valkey), writes=writes)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(time.time())


@pytest.fixture
def online() -> OnlinePlayers:
    return OnlinePlayers()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def boards() -> RecordingBoards:
    return RecordingBoards()


@pytest_asyncio.fixture(loop_scope="session")
async def parties(valkey: ValkeyCluster, clock: FixedClock) -> PartyService:
    service = PartyService(PartyStore(ShardCaller(valkey)), clock)
    await service.ensure_ready()
    return service


@pytest_asyncio.fixture(loop_scope="session")
async def service(
    valkey: ValkeyCluster,
    clock: FixedClock,
    online: OnlinePlayers,
    boards: RecordingBoards,
    parties: PartyService,
) -> MatchmakingService:
    queues = (
        QueueConfig(name="duel"),
        QueueConfig(name="open", window=OPEN_WINDOW, ranked_board="ranked"),
        QueueConfig(name="two", team_size=2, window=OPEN_WINDOW),
        QueueConfig(name="solo", window=OPEN_WINDOW, parties=False),
        QueueConfig(name="short", window=SkillWindow(0.0, 0.0, 0.0), max_wait_s=5.0),
        QueueConfig(name="regional", window=OPEN_WINDOW, same_region=True),
    )
    svc = MatchmakingService(
        mm_store(valkey), clock, online, boards, queues=queues, limits=LIMITS, parties=parties
    )
    await svc.ensure_ready()
    return svc


@pytest.fixture
def make_worker(valkey: ValkeyCluster, clock: FixedClock, notifier: RecordingNotifier) -> Any:
    def make(worker_id: str = "w1", limits: MatchmakingLimits = LIMITS) -> MatchmakingWorker:
        return MatchmakingWorker(mm_store(valkey), clock, notifier, worker_id, limits=limits)

    return make
