"""The worker's own listener: /healthz, /readyz (Valkey link and loops) and /metrics."""

from __future__ import annotations

import asyncio

import httpx

from gameserver.workers.health_server import HealthServer
from gameserver.workers.process import WorkerState
from tests.gateway_harness import Gateway, free_port


async def test_worker_readiness_needs_its_valkey_link_and_every_loop_running(
    gateway: Gateway,
) -> None:
    state = WorkerState()
    port = free_port()
    server = HealthServer(
        "127.0.0.1",
        port,
        {"/healthz": state.healthz, "/readyz": state.readyz, "/metrics": state.metrics},
    )
    await server.start()
    stop = asyncio.Event()
    running = asyncio.create_task(stop.wait())
    crashed = asyncio.create_task(asyncio.sleep(0))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            starting = await http.get("/readyz")
            assert starting.status_code == 503 and "starting" in starting.json()["reasons"][0]

            state.services = gateway.services
            await crashed
            state.loops = [running, crashed]
            stopped = await http.get("/readyz")
            assert stopped.status_code == 503
            assert stopped.json()["reasons"] == ["1 worker loops stopped"]
            assert "gameserver_worker_loops_running 1" in (await http.get("/metrics")).text

            state.loops = [running]
            assert (await http.get("/readyz")).json() == {"status": "ready"}
            assert (await http.get("/nothing")).status_code == 404
    finally:
        stop.set()
        await running
        await server.close()
