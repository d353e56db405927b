"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from gameserver.http.json import json_response
from gameserver.readiness import cluster_problem, worker_problem
from gameserver.services import Services
from gameserver.supervisor.restarts import render_restarts


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready while every shard has a primary serving all its slots and a matchmaking
    worker has beaten its heartbeat within GAMESERVER_WORKER_HEARTBEAT_S; else 503 with
    the reasons."""
    services: Services = request.app.state.services
    found = await asyncio.gather(
        cluster_problem(services.cluster),
        worker_problem(services.matchmaking, services.settings.worker_heartbeat_s),
    )
    reasons = [reason for reason in found if reason is not None]
    if not reasons:
        return json_response({"status": "ready"})
    return json_response({"status": "unavailable", "reasons": reasons}, 503)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    services.metrics.sessions_online.set(len(services.registry))
    # The queue gauges are counted in Valkey by the workers; read at each scrape.
    body = await services.metrics.scrape(services.matchmaking) + render_restarts()
    return Response(body, media_type="text/plain; version=0.0.4")
