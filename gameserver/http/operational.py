"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gameserver.http.json import json_response
from gameserver.services import Services
from gameserver.valkey_client import cluster_is_ready


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    if await cluster_is_ready(services.cluster):
        return json_response({"status": "ready"})
    return json_response({"status": "unavailable"}, 503)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    services.metrics.sessions_online.set(len(services.registry))
    # The queue gauges are counted in Valkey by the workers; read at each scrape.
    body = await services.metrics.scrape(services.matchmaking)
    return Response(body, media_type="text/plain; version=0.0.4")
