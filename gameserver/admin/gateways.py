"""`GET /admin/v1/gateways`: sessions online and logins per minute over every gateway.

Each gateway process reports its own figures every few seconds
(gameserver/gateway/figures.py); the answering gateway's own are read live.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from domain.sessions.models import GatewayFigures
from gameserver.admin.auth import admin_services
from gameserver.gateway.figures import REPORT_INTERVAL_S, own_figures
from gameserver.http.json import handles_errors, json_response


@handles_errors
async def list_gateways(request: Request) -> Response:
    services = admin_services(request)
    own = own_figures(services)
    reported = await services.sessions.gateway_reports()
    gateways = [own, *(report for report in reported if report.gateway_id != own.gateway_id)]
    gateways.sort(key=lambda figures: figures.gateway_id)
    return json_response(
        {
            "gateways": [_row(figures) for figures in gateways],
            "sessions_online": sum(figures.sessions_online for figures in gateways),
            "logins_last_minute": sum(figures.logins_last_minute for figures in gateways),
            "report_interval_s": REPORT_INTERVAL_S,
        }
    )


def _row(figures: GatewayFigures) -> dict[str, object]:
    return {
        "gateway_id": figures.gateway_id,
        "sessions_online": figures.sessions_online,
        "logins_last_minute": figures.logins_last_minute,
        "reported_at": figures.reported_at,
    }
