"""Admin views of a player: session, presence, rating, boards; and ending a session."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from domain.ids import require_id
from gameserver import player_data
from gameserver.admin.auth import admin_services
from gameserver.http.json import handles_errors, json_response, read_json_object


@handles_errors
async def get_player(request: Request) -> Response:
    services = admin_services(request)
    player_id = require_id(request.path_params["player_id"], "player_id")
    session = await services.sessions.get(player_id)
    presence = (await services.presence.get([player_id]))[player_id]
    body: dict[str, Any] = {
        "player_id": player_id,
        "session": None
        if session is None
        else {
            "session_id": session.session_id,
            "region": session.region,
            "created_at": session.created_at,
            "connected": session.gateway_id is not None,
            "gateway_id": session.gateway_id,
        },
        "presence": presence.value,
    }
    account = await services.accounts.find(player_id)
    body["account"] = None if account is None else account.to_dict()
    body["ban"] = None if account is None or account.ban is None else account.ban.to_dict()
    body["rating"] = (await services.matchmaking.rating_of(player_id)).to_dict()
    body["boards"] = [
        {"board": board, "rank": entry.rank, "score": entry.score}
        for board, entry in await services.leaderboards.boards_of_player(player_id)
    ]
    return json_response(body)


@handles_errors
async def end_player_session(request: Request) -> Response:
    services = admin_services(request)
    ended = await services.sessions.end(request.path_params["player_id"])
    if ended.gateway_id:
        await services.messenger.session_kicked(ended.gateway_id, ended.player_id, ended.session_id)
    return Response(status_code=204)


@handles_errors
async def ban_player(request: Request) -> Response:
    services = admin_services(request)
    player_id = require_id(request.path_params["player_id"], "player_id")
    body = await read_json_object(request)
    await services.accounts.ban(player_id, body.get("until"), body.get("reason"))
    await player_data.kick_if_online(services, player_id)
    await services.matchmaking.cancel_searching(player_id)
    await services.parties.remove_from_party(player_id)
    return Response(status_code=204)


@handles_errors
async def export_player(request: Request) -> Response:
    services = admin_services(request)
    return json_response(
        await player_data.export_player(services, request.path_params["player_id"])
    )


@handles_errors
async def erase_player(request: Request) -> Response:
    services = admin_services(request)
    await player_data.erase_player(services, request.path_params["player_id"])
    return Response(status_code=204)


@handles_errors
async def unban_player(request: Request) -> Response:
    services = admin_services(request)
    await services.accounts.unban(request.path_params["player_id"])
    return Response(status_code=204)
