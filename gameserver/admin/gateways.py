"""`GET /admin/v1/gateways`: sessions online and logins per minute over every gateway;
`GET /admin/v1/history`: the last minutes of them and of the queues' figures.

Each gateway process reports its own figures every few seconds and samples the history
(gameserver/gateway/figures.py); the answering gateway's own figures are read live.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from gameserver.admin.auth import admin_services
from gameserver.figure_history import SAMPLE_INTERVAL_S
from gameserver.gateway.figures import REPORT_INTERVAL_S, every_gateway, summed
from gameserver.http.json import handles_errors, json_response


@handles_errors
async def list_gateways(request: Request) -> Response:
    services = admin_services(request)
    gateways = await every_gateway(services)
    sessions_online, logins_last_minute = summed(gateways)
    return json_response(
        {
            "gateways": [dataclasses.asdict(figures) for figures in gateways],
            "sessions_online": sessions_online,
            "logins_last_minute": logins_last_minute,
            "report_interval_s": REPORT_INTERVAL_S,
        }
    )


@handles_errors
async def figure_history(request: Request) -> Response:
    services = admin_services(request)
    return json_response(
        {
            "now": services.clock.now(),
            "interval_s": SAMPLE_INTERVAL_S,
            "samples": [sample.to_dict() for sample in services.figure_history.samples()],
        }
    )
