"""Each write class follows the durability class its gateway was configured with: the
`fsync` class confirms with WAITAOF, the others do not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.storage.shard_calls import DURABILITY_CLASSES
from gameserver.settings import WRITE_CLASSES
from tests.game_client import GameClient, device_id_for, device_login, game_client
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")

Action = Callable[[Gateway, GameClient], Awaitable[None]]


async def waitaof_calls(admin: ValkeyCluster) -> int:
    replies: dict[str, Any] = await admin.execute_command(
        "INFO", "commandstats", target_nodes=ValkeyCluster.PRIMARIES
    )
    total = 0
    for stats in replies.values():
        found = stats.get("cmdstat_waitaof")
        total += int(found["calls"]) if isinstance(found, dict) else 0
    return total


async def submit_score(gateway: Gateway, client: GameClient) -> None:
    await client.ok("score.submit", board="global", score=10)


async def log_in(gateway: Gateway, client: GameClient) -> None:
    # A new device: its account (accounts) and its session (sessions).
    assert (await device_login(gateway.base_url, device_id_for("durable"))).status_code == 201


async def join_queue(gateway: Gateway, client: GameClient) -> None:
    await client.ok("match.join", queue="duel")


async def create_party(gateway: Gateway, client: GameClient) -> None:
    await client.ok("party.create")


ACTIONS: dict[str, Action] = {
    "scores": submit_score,
    "sessions": log_in,
    "accounts": log_in,
    "matches": join_queue,
    "parties": create_party,
}


@pytest.mark.parametrize("write_class", WRITE_CLASSES)
async def test_a_write_class_set_to_fsync_confirms_with_waitaof(
    cluster_seeds: tuple[tuple[str, int], ...], admin_valkey: ValkeyCluster, write_class: str
) -> None:
    assert "fsync" in DURABILITY_CLASSES
    for durability in ("replicated", "fsync"):
        chosen = dict.fromkeys(WRITE_CLASSES, "replicated") | {write_class: durability}
        settings = gateway_settings(cluster_seeds, "gw-durability", durability=chosen)
        async with running_gateway(settings) as gateway:
            async with game_client(gateway.base_url, f"p-{durability}") as client:
                before = await waitaof_calls(admin_valkey)
                await ACTIONS[write_class](gateway, client)
                after = await waitaof_calls(admin_valkey)
        assert (after > before) is (durability == "fsync"), durability
        await admin_valkey.flushall(target_nodes=ValkeyCluster.PRIMARIES)
