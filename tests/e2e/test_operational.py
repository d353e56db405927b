"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time

import httpx
from valkey.asyncio.cluster import ValkeyCluster

from domain.matchmaking.store import WORKERS_KEY
from domain.matchmaking.worker import MatchmakingWorker
from tests.game_client import game_client
from tests.gateway_harness import Gateway


async def _ready(http: httpx.AsyncClient) -> httpx.Response:
    """/readyz once it answers 200, or its last answer after a bounded wait."""
    for _ in range(50):
        response = await http.get("/readyz")
        if response.status_code == 200:
            break
        await asyncio.sleep(0.1)
    return response


async def test_health_and_readiness_answer_ok_with_a_whole_cluster_and_a_worker(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await _ready(http)).json() == {"status": "ready"}


async def test_readiness_fails_and_says_why_while_no_worker_beats_its_heartbeat(
    gateway: Gateway, admin_valkey: ValkeyCluster
) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        assert (await http.get("/healthz")).status_code == 200
        never = await http.get("/readyz")
        assert never.status_code == 503
        assert never.json()["reasons"] == ["no matchmaking worker has beaten its heartbeat"]
        # A worker heard of a minute ago (killed, say) is not enough.
        minute_ago_ms = round((time.time() - 60) * 1000)
        await admin_valkey.zadd(WORKERS_KEY, {"w-dead": minute_ago_ms})
        stale = await http.get("/readyz")
        assert stale.status_code == 503
        assert "heartbeat for 6" in stale.json()["reasons"][0]


async def test_metrics_count_requests_errors_and_open_sockets(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.ok("ping")
        await client.call("no.such.op")
        async with httpx.AsyncClient(base_url=gateway.base_url) as http:
            text = (await http.get("/metrics")).text
    assert 'gameserver_requests_total{op="ping"} 1.0' in text
    assert 'gameserver_errors_total{code="bad_request",op="?"} 1.0' in text
    assert "gameserver_sockets_open 1.0" in text
    assert 'gameserver_request_seconds_bucket{le="0.001",op="ping"}' in text
    # Push counters exist at 0 before the first push: a rate over them reads 0, not "no data".
    assert 'gameserver_pushes_total{event="rank.changed"} 0.0' in text
    # The process itself: CPU, memory and garbage collections by generation.
    assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text
    assert 'python_gc_collections_total{generation="2"}' in text
