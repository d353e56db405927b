"""The worker process: the background loops (matchmaking, housekeeping) until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid

from domain.clock import SystemClock
from gameserver.config_file import load_startup_config
from gameserver.gc_policy import freeze_startup_objects
from gameserver.services import build_services
from gameserver.settings import Settings
from gameserver.valkey_client import connect_cluster
from gameserver.workers.loops import build_worker_loops

log = logging.getLogger(__name__)


async def run_workers(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker_id = f"worker-{uuid.uuid4().hex[:8]}"
    cluster = await connect_cluster(settings)
    try:
        services = await build_services(
            settings, cluster, SystemClock(), load_startup_config(settings.config_path)
        )
        loops = build_worker_loops(services, worker_id)
        freeze_startup_objects()
        log.info("worker %s running %d loops", worker_id, len(loops))
        await asyncio.gather(*(run(stop) for run in loops))
    finally:
        await cluster.aclose()
