"""The worker process: the background loops (matchmaking, housekeeping) until SIGTERM.

With `--metrics-port P` it also answers `/healthz` (the process runs), `/readyz` (its
Valkey link works and every loop runs; else 503 with the reasons) and `/metrics` on P.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid

from domain.clock import SystemClock
from gameserver.config_file import load_startup_config
from gameserver.gc_policy import freeze_startup_objects
from gameserver.readiness import cluster_problem
from gameserver.services import Services, build_services
from gameserver.settings import Settings
from gameserver.supervisor.restarts import render_restarts
from gameserver.valkey_client import connect_cluster
from gameserver.workers.health_server import HealthServer, json_body
from gameserver.workers.loops import build_worker_loops

log = logging.getLogger(__name__)

_LOOPS_METRIC = "gameserver_worker_loops_running"
# Once asked to stop, the loops get this long to hand their work back (Valkey may be
# stopping too, when the whole host goes down): then they are cancelled.
_STOP_DEADLINE_S = 10.0


async def _cancel_after_stop(stop: asyncio.Event, loops: list[asyncio.Future[None]]) -> None:
    await stop.wait()
    await asyncio.sleep(_STOP_DEADLINE_S)
    for task in loops:
        if not task.done():
            log.warning("a worker loop did not stop within %.0f s; cancelling it", _STOP_DEADLINE_S)
            task.cancel()


class WorkerState:
    """What the worker's health listener reports."""

    def __init__(self) -> None:
        self.services: Services | None = None
        self.loops: list[asyncio.Future[None]] = []

    def running_loops(self) -> int:
        return sum(1 for task in self.loops if not task.done())

    async def readyz(self) -> tuple[int, str, bytes]:
        reasons = []
        if self.services is None:
            reasons.append("starting: not connected to Valkey yet")
        else:
            problem = await cluster_problem(self.services.cluster)
            if problem is not None:
                reasons.append(problem)
        if self.services is not None and self.running_loops() < len(self.loops):
            reasons.append(f"{len(self.loops) - self.running_loops()} worker loops stopped")
        if self.services is not None and not self.loops:
            reasons.append("starting: the worker loops are not running yet")
        if reasons:
            return json_body(503, {"status": "unavailable", "reasons": reasons})
        return json_body(200, {"status": "ready"})

    async def healthz(self) -> tuple[int, str, bytes]:
        return json_body(200, {"status": "ok"})

    async def metrics(self) -> tuple[int, str, bytes]:
        body = b""
        if self.services is not None:
            # The queue gauges are counted in Valkey; read at each scrape.
            body = await self.services.metrics.scrape(self.services.matchmaking)
        body += (
            f"# HELP {_LOOPS_METRIC} Background loops running in this worker process.\n"
            f"# TYPE {_LOOPS_METRIC} gauge\n{_LOOPS_METRIC} {self.running_loops()}\n"
        ).encode()
        return 200, "text/plain; version=0.0.4", body + render_restarts()


async def run_workers(settings: Settings, metrics_port: int | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker_id = f"worker-{uuid.uuid4().hex[:8]}"
    state = WorkerState()
    health: HealthServer | None = None
    if metrics_port is not None:
        health = HealthServer(
            settings.host,
            metrics_port,
            {"/healthz": state.healthz, "/readyz": state.readyz, "/metrics": state.metrics},
        )
        await health.start()
        log.info("worker health and metrics on %s:%d", settings.host, metrics_port)
    try:
        cluster = await connect_cluster(settings)
        try:
            services = await build_services(
                settings, cluster, SystemClock(), load_startup_config(settings.config_path)
            )
            state.services = services
            loops = build_worker_loops(services, worker_id)
            freeze_startup_objects()
            log.info("worker %s running %d loops", worker_id, len(loops))
            state.loops = [asyncio.ensure_future(run(stop)) for run in loops]
            deadline = asyncio.create_task(_cancel_after_stop(stop, state.loops))
            try:
                # A loop that fails ends the process (its supervisor starts it again).
                await asyncio.wait(state.loops, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                stop.set()
                for task in state.loops:
                    with contextlib.suppress(BaseException):
                        await task
                deadline.cancel()
            for task in state.loops:
                if not task.cancelled() and (failure := task.exception()) is not None:
                    raise failure
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(cluster.aclose(), _STOP_DEADLINE_S)
    finally:
        if health is not None:
            await health.close()
