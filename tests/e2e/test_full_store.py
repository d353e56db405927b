"""A Valkey node over its memory limit (`maxmemory`, `noeviction`) refuses writes: the
client is told `unavailable` (503 over HTTP), never `internal`, and nothing changes;
`gameserver cluster status` says `degraded` and why."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.shards import shard_report
from gameserver.workers.period_ends import PeriodEndWorker
from tests.cluster_helpers import until
from tests.game_client import device_id_for, device_login, game_client
from tests.gateway_harness import Gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


@contextlib.asynccontextmanager
async def full_primaries(admin_valkey: ValkeyCluster) -> AsyncIterator[None]:
    """Every primary as a node that has reached its memory limit."""
    primaries = ValkeyCluster.PRIMARIES
    await admin_valkey.config_set("maxmemory", "1", target_nodes=primaries)
    try:
        yield
    finally:
        await admin_valkey.config_set("maxmemory", "0", target_nodes=primaries)


async def test_a_full_store_answers_unavailable_and_changes_nothing(
    gateway: Gateway, admin_valkey: ValkeyCluster
) -> None:
    async with game_client(gateway.base_url, "p1") as p1, contextlib.AsyncExitStack() as full:
        await p1.ok("score.submit", board="global", score=10)
        await full.enter_async_context(full_primaries(admin_valkey))

        reply = await p1.call("score.submit", board="global", score=99)
        assert reply["ok"] is False
        assert reply["error"]["code"] == "unavailable", reply
        assert "full" in reply["error"]["message"]
        reply = await p1.call("session.set", values={"level": 3})
        assert reply["error"]["code"] == "unavailable", reply

        login = await device_login(gateway.base_url, device_id_for("full-store"))
        assert login.status_code == 503, login.text
        assert login.json()["error"]["code"] == "unavailable"

        # Reads go on, and show that nothing was written.
        rank = await p1.ok("board.rank", board="global")
        assert rank["score"] == 10
        assert (await p1.ok("session.get"))["values"] == {}


async def test_cluster_status_says_degraded_while_a_primary_refuses_writes(
    admin_valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster
) -> None:
    assert (await asyncio.to_thread(shard_report, embedded_cluster)).health == "healthy"
    async with full_primaries(admin_valkey):
        report = await asyncio.to_thread(shard_report, embedded_cluster)
    assert report.health == "degraded"
    full = [r for r in report.reasons if "memory limit (maxmemory)" in r]
    assert len(full) == len(report.shards) == 3, report.reasons


async def test_the_period_end_worker_logs_a_refused_write_in_one_line(
    gateway: Gateway, admin_valkey: ValkeyCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """An expected outage (here a full store) is one warning per check, not a traceback
    every period_check_s for as long as it lasts."""
    services = gateway.services
    worker = PeriodEndWorker(
        services.leaderboards,
        services.messenger,
        services.accounts,
        services.clock,
        gateway.settings,
        "w-full",
    )
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="gameserver.workers.period_ends")
    async with full_primaries(admin_valkey):
        running = asyncio.create_task(worker.run(stop))
        try:
            await until(lambda: caplog.records, "the worker's warning", 10)
        finally:
            stop.set()
            await running
    record = caplog.records[0]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "the store is full" in record.getMessage()
