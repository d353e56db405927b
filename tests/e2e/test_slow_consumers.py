"""A client that stops reading is closed with 1013 (slow consumer), whatever notices it."""

from __future__ import annotations

import asyncio

import pytest

from tests.game_client import game_client
from tests.gateway_harness import gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")

Seeds = tuple[tuple[str, int], ...]


async def test_a_subscriber_that_never_reads_is_closed_with_1013_not_1011(
    cluster_seeds: Seeds,
) -> None:
    # Short keepalive: the ping goes unanswered because the client reads nothing.
    settings = gateway_settings(
        cluster_seeds, "gw-keepalive", ws_ping_interval_s=0.3, ws_ping_timeout_s=0.3
    )
    async with (
        running_gateway(settings) as gw,
        game_client(gw.base_url, "reader") as silent,
        game_client(gw.base_url, "writer") as writer,
    ):
        await silent.ok("board.subscribe", board="global", top=10)
        silent.socket.transport.pause_reading()  # the client stops reading its socket
        for score in range(10):  # pushes keep coming meanwhile
            await writer.ok("score.submit", board="global", score=score)
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)
        silent.socket.transport.resume_reading()
        assert await silent.wait_closed() == 1013
        await writer.ok("ping")  # the writer, who reads, is untouched
