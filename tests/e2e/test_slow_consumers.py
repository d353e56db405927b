"""A client that stops reading is closed with 1013 (slow consumer), whatever notices it."""

from __future__ import annotations

import asyncio

import orjson
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


async def test_a_client_whose_socket_backs_up_is_closed_with_1013_when_its_queue_fills(
    cluster_seeds: Seeds,
) -> None:
    # No keepalive ping within the test: only the outgoing queue can notice the client.
    settings = gateway_settings(
        cluster_seeds,
        "gw-queue",
        ws_ping_interval_s=600.0,
        ws_ping_timeout_s=600.0,
        outgoing_queue_limit=4,
        max_frame_bytes=128 * 1024,
        session_values_max_bytes=64 * 1024,
        rate_limit_per_s=1e6,
        rate_limit_burst=10**6,
    )
    async with (
        running_gateway(settings) as gw,
        game_client(gw.base_url, "reader") as silent,
        game_client(gw.base_url, "leader") as leader,
    ):
        await silent.ok("session.set", values={"blob": "x" * 50_000})
        party = (await leader.ok("party.create"))["party_id"]
        silent.socket.transport.pause_reading()  # the client stops reading its socket
        # Replies of 50 KB each, unread: they fill the TCP buffers and then the gateway's
        # write buffer, until its transport pauses writing.
        for i in range(200):
            await silent.send_raw(orjson.dumps({"op": "session.get", "id": f"g{i}"}))
        await asyncio.sleep(1.0)
        for _ in range(12):  # pushes for the reader, more than its queue holds
            await leader.ok("party.invite", party_id=party, player_id="reader")
        await asyncio.sleep(0.5)
        silent.socket.transport.resume_reading()
        assert await silent.wait_closed() == 1013
        await leader.ok("ping")  # the leader, who reads, is untouched
