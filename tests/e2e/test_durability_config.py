"""A gateway configured with the `fsync` class for scores confirms them with WAITAOF."""

from __future__ import annotations

from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from tests.game_client import game_client
from tests.gateway_harness import gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def waitaof_calls(admin: ValkeyCluster) -> int:
    replies: dict[str, Any] = await admin.execute_command(
        "INFO", "commandstats", target_nodes=ValkeyCluster.PRIMARIES
    )
    total = 0
    for stats in replies.values():
        found = stats.get("cmdstat_waitaof")
        total += int(found["calls"]) if isinstance(found, dict) else 0
    return total


@pytest.mark.parametrize(("durability", "fsynced"), [("fsync", True), ("replicated", False)])
async def test_score_writes_follow_their_configured_durability_class(
    cluster_seeds: tuple[tuple[str, int], ...],
    admin_valkey: ValkeyCluster,
    durability: str,
    fsynced: bool,
) -> None:
    settings = gateway_settings(
        cluster_seeds,
        "gw-durability",
        durability={"scores": durability, "sessions": "replicated"},
    )
    async with running_gateway(settings) as gateway:
        async with game_client(gateway.base_url, "p1") as p1:
            before = await waitaof_calls(admin_valkey)
            await p1.ok("score.submit", board="global", score=10)
            after = await waitaof_calls(admin_valkey)
    assert (after > before) is fsynced
