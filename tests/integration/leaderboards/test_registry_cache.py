"""The board registry's cache: one read of an expired config however many requests wait
for it, and never a copy read before an invalidation remembered after it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards.models import BoardConfig
from domain.leaderboards.registry import BoardRegistry
from domain.leaderboards.service import LeaderboardService
from domain.storage.shard_calls import Call, ShardCaller

WAIT = (1, 2000)


class HeldReads(ShardCaller):
    """The real caller, counting its reads and holding each answer until `release`."""

    def __init__(self, cluster: ValkeyCluster) -> None:
        super().__init__(cluster)
        self.reads = 0
        self.release = asyncio.Event()
        self.release.set()

    async def read(self, calls: Sequence[Call]) -> list[Any]:
        self.reads += 1
        replies = await super().read(calls)
        await self.release.wait()
        return replies


async def test_requests_that_find_a_config_expired_share_one_read(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    caller = HeldReads(valkey)
    registry = BoardRegistry(caller, WAIT, ttl_s=60)
    boards = await asyncio.gather(*(registry.get("global") for _ in range(50)))
    assert caller.reads == 1
    assert {board.config.name for board in boards if board is not None} == {"global"}
    assert await registry.get("global") is boards[0] and caller.reads == 1


async def test_a_read_answered_before_an_invalidation_is_not_remembered(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    await service.create_board(BoardConfig("doomed"))
    caller = HeldReads(valkey)
    registry = BoardRegistry(caller, WAIT, ttl_s=60)
    caller.release.clear()
    reading = asyncio.create_task(registry.get("doomed"))
    for _ in range(200):  # until the read is answered and held
        if caller.reads:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    await service.delete_board("doomed")
    registry.invalidate("doomed")  # what a delete through this registry does
    caller.release.set()
    assert await reading is not None  # its answer predates the delete
    assert await registry.get("doomed") is None
    assert caller.reads == 2


async def test_a_caller_cancelled_does_not_cancel_the_read_others_wait_for(
    service: LeaderboardService, valkey: ValkeyCluster
) -> None:
    caller = HeldReads(valkey)
    registry = BoardRegistry(caller, WAIT, ttl_s=60)
    caller.release.clear()
    impatient = asyncio.create_task(registry.get("global"))
    patient = asyncio.create_task(registry.get("global"))
    await asyncio.sleep(0.05)
    impatient.cancel()
    caller.release.set()
    board = await patient
    assert board is not None and board.config.name == "global" and caller.reads == 1
