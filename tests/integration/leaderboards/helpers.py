"""Helpers of the leaderboard integration tests: players in chosen sub-boards, snapshots,
boards mirrored in the model."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards.keys import sub_board_of
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from tests.integration.leaderboards.model import ModelBoard


def players_in_distinct_sub_boards(count: int, sub_boards: int = 6, prefix: str = "p") -> list[str]:
    """`count` player ids, each in another sub-board (round robin), so ties cross shards."""
    chosen: list[str] = []
    for i in range(10_000):
        player = f"{prefix}{i}"
        if sub_board_of(player, sub_boards) == len(chosen) % sub_boards:
            chosen.append(player)
            if len(chosen) == count:
                return chosen
    raise AssertionError("not enough players")


async def snapshot(valkey: ValkeyCluster) -> dict[bytes, Any]:
    """Every key of the cluster with its value, for 'nothing changed' checks."""
    names = [name async for name in valkey.scan_iter(count=1000)]
    return {name: await _value(valkey, name) for name in names}


async def _value(valkey: ValkeyCluster, name: bytes) -> Any:
    kind = await valkey.type(name)
    if kind == b"zset":
        return await valkey.zrange(name, 0, -1, withscores=True)
    if kind in (b"hash", b"set"):
        return await valkey.execute_command("HGETALL" if kind == b"hash" else "SMEMBERS", name)
    return await valkey.get(name)


@dataclass
class MirroredBoard:
    """A board written through one service (a gateway) and the model, change by change."""

    writer: LeaderboardService
    name: str
    model: ModelBoard

    @classmethod
    async def create(cls, writer: LeaderboardService, config: BoardConfig) -> MirroredBoard:
        await writer.create_board(config)
        return cls(writer, config.name, ModelBoard(config.order, config.operator))

    async def submit(
        self, player: str, value: float, metadata: dict[str, Any] | None = None
    ) -> None:
        self.model.submit(player, value, metadata)
        await self.writer.submit(self.name, player, value, metadata)

    async def remove(self, player: str) -> None:
        self.model.remove(player)
        await self.writer.remove_player(self.name, player)

    async def seed(self, players: list[str], rng: random.Random, high: int) -> None:
        for player in players:
            await self.submit(player, float(rng.randint(0, high)))
