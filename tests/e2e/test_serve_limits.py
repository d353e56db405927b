"""The limits of a real `gameserver serve` process, as its own start-up configures them."""

from __future__ import annotations

import orjson
import pytest

from tests.game_client import game_client
from tests.gateway_harness import gateway_process, gateway_settings

pytestmark = pytest.mark.usefixtures("clean_valkey")

DEFAULT_FRAME_LIMIT = 16 * 1024


def _ping_of_bytes(size: int) -> str:
    frame = orjson.dumps({"op": "ping", "id": 1, "pad": ""}).decode()
    padded = orjson.dumps({"op": "ping", "id": 1, "pad": "x" * (size - len(frame))}).decode()
    assert len(padded) == size
    return padded


async def test_the_served_gateway_closes_a_frame_just_over_16_kib_with_1009(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    with gateway_process(gateway_settings(cluster_seeds, "gw-limits")) as served:
        async with game_client(served.base_url, "p1") as client:
            await client.send_raw(_ping_of_bytes(DEFAULT_FRAME_LIMIT - 16))
            assert (await client.orphan_replies.get())["ok"] is True
            await client.send_raw(_ping_of_bytes(DEFAULT_FRAME_LIMIT + 16))
            assert await client.wait_closed() == 1009
