"""`POST /v1/sessions`: a game client logs in with a credential and gets a signed token."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from domain.accounts.models import Login
from domain.errors import Banned, ErasedMeanwhile, Unauthorized
from domain.ids import require_id
from gameserver.http.json import handles_errors, json_response, read_json_object
from gameserver.http.login_limit import limit_login
from gameserver.services import Services


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return None
    return value.strip()


@handles_errors
async def create_session(request: Request) -> Response:
    await limit_login(request)
    services: Services = request.app.state.services
    client_key = services.settings.client_key
    if client_key:
        given = bearer_token(request)
        if given is None or not hmac.compare_digest(given.encode(), client_key.encode()):
            raise Unauthorized("a valid client key is required")
    body = await read_json_object(request)
    region = region_field(body.get("region"))
    login = await services.accounts.login(body)
    services.metrics.count_login(login_kind(body))
    return await open_session(services, login, region)


def login_kind(body: dict[str, object]) -> str:
    """The credential a login used, for the metrics (the login itself checked it)."""
    if body.get("device_id") is not None:
        return "device"
    return "provider" if body.get("provider") is not None else "dev"


def region_field(value: object) -> str | None:
    # Checked before any account is made: a bad request changes nothing.
    return None if value is None else require_id(value, "region")


async def open_session(services: Services, login: Login, region: str | None) -> Response:
    created = await services.sessions.create(login.player_id, region)
    if created.replaced is not None and created.replaced.gateway_id:
        await services.messenger.session_replaced(
            created.replaced.gateway_id, created.player_id, created.replaced.session_id
        )
    # A ban or an erase that landed between the login's own checks and this session
    # ended every session before this one existed: asked again now, this one ends too. (A
    # ban or erase after this read ends the session itself.) So a login racing either
    # never keeps a session.
    try:
        await services.accounts.confirm_login(login.player_id)
    except (Banned, ErasedMeanwhile):
        await services.sessions.logout(login.player_id, created.session_id)
        raise
    return json_response(
        {
            "token": created.token,
            "session_id": created.session_id,
            "player_id": created.player_id,
            "expires_in": created.expires_in,
            "created": login.created,
        },
        201,
    )
