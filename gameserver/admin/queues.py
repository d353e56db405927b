"""Admin and trusted-server endpoints of matchmaking: queues and match results."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from domain.fields import only_fields
from domain.matchmaking.models import QueueConfig
from gameserver.admin.auth import admin_services
from gameserver.http.json import handles_errors, json_response, read_json_object


@handles_errors
async def create_queue(request: Request) -> Response:
    services = admin_services(request)
    queue = QueueConfig.from_dict(await read_json_object(request))
    await services.matchmaking.create_queue(queue)
    return json_response(queue.to_dict(), 201)


@handles_errors
async def list_queues(request: Request) -> Response:
    services = admin_services(request)
    return json_response({"queues": await services.matchmaking.list_queue_stats()})


@handles_errors
async def report_result(request: Request) -> Response:
    services = admin_services(request)
    body = await read_json_object(request)
    only_fields(body, frozenset({"ranks"}), "result")
    match_id = request.path_params["match_id"]
    ratings = await services.matchmaking.report_result(match_id, body.get("ranks"))
    return json_response(
        {
            "match_id": match_id,
            "ratings": {player: rating.to_dict() for player, rating in ratings.items()},
        }
    )


@handles_errors
async def get_match(request: Request) -> Response:
    services = admin_services(request)
    return json_response(await services.matchmaking.match_view(request.path_params["match_id"]))


@handles_errors
async def open_backfill(request: Request) -> Response:
    services = admin_services(request)
    body = await read_json_object(request)
    only_fields(body, frozenset({"open"}), "backfill")
    match_id = request.path_params["match_id"]
    backfill_id = await services.matchmaking.open_backfill(match_id, body.get("open"))
    return json_response({"backfill_id": backfill_id}, 202)


@handles_errors
async def close_backfill(request: Request) -> Response:
    services = admin_services(request)
    await services.matchmaking.close_backfill(request.path_params["match_id"])
    return Response(status_code=204)
