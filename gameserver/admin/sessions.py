"""`POST /admin/v1/sessions`: a trusted game server logs a player in (custom auth)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gameserver.admin.auth import admin_services
from gameserver.http.json import handles_errors, read_json_object
from gameserver.http.sessions import open_session, region_field


@handles_errors
async def create_trusted_session(request: Request) -> Response:
    services = admin_services(request)
    body = await read_json_object(request)
    region = region_field(body.get("region"))
    login = await services.accounts.trusted_login(body.get("player_id"), body.get("display_name"))
    services.metrics.count_login("trusted")
    return await open_session(services, login, region)
