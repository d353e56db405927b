"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import httpx

from tests.game_client import game_client
from tests.gateway_harness import Gateway


async def test_health_and_readiness_answer_ok_on_a_whole_cluster(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).json() == {"status": "ready"}


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
