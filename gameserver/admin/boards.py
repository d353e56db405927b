"""Admin and trusted-server endpoints of leaderboards (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from domain.errors import BadRequest
from domain.fields import only_fields
from domain.leaderboards.models import BoardConfig
from gameserver.admin.auth import admin_services
from gameserver.board_entries import named_entries
from gameserver.fields import number, optional_object, optional_text, text
from gameserver.gateway.ops.leaderboards import submit_reply
from gameserver.http.json import handles_errors, json_response, read_json_object


def _query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None


@handles_errors
async def create_board(request: Request) -> Response:
    services = admin_services(request)
    config = BoardConfig.from_mapping(await read_json_object(request))
    board = await services.leaderboards.create_board(config)
    return json_response(board.to_dict(), 201)


@handles_errors
async def list_boards(request: Request) -> Response:
    services = admin_services(request)
    summaries = await services.leaderboards.list_boards()
    boards: list[dict[str, Any]] = [
        {**summary.board.to_dict(), "period": summary.period, "count": summary.count}
        for summary in summaries
    ]
    return json_response({"boards": boards})


@handles_errors
async def inspect_board(request: Request) -> Response:
    services = admin_services(request)
    view = await services.leaderboards.inspect(
        request.path_params["name"],
        _query_int(request, "limit", 10),
        request.query_params.get("cursor"),
        request.query_params.get("period"),
    )
    return json_response(
        {
            **view.board.to_dict(),
            "period": view.period,
            "count": view.count,
            "entries": await named_entries(services.accounts, view.page.entries),
            "next_cursor": view.page.next_cursor,
        }
    )


@handles_errors
async def delete_board(request: Request) -> Response:
    services = admin_services(request)
    await services.leaderboards.delete_board(request.path_params["name"])
    return Response(status_code=204)


_SCORE_FIELDS = frozenset({"player_id", "score", "metadata", "request_id"})


@handles_errors
async def submit_score(request: Request) -> Response:
    services = admin_services(request)
    body = await read_json_object(request)
    only_fields(body, _SCORE_FIELDS, "score")
    result = await services.leaderboards.submit(
        request.path_params["name"],
        text(body, "player_id"),
        number(body, "score"),
        optional_object(body, "metadata"),
        optional_text(body, "request_id"),
        trusted=True,
    )
    services.metrics.count_board_write(result.board)
    return json_response(submit_reply(result))


@handles_errors
async def remove_player(request: Request) -> Response:
    services = admin_services(request)
    await services.leaderboards.remove_player(
        request.path_params["name"], request.path_params["player_id"]
    )
    return Response(status_code=204)


@handles_errors
async def reset_board(request: Request) -> Response:
    services = admin_services(request)
    await services.leaderboards.reset(request.path_params["name"])
    return Response(status_code=204)


@handles_errors
async def board_periods(request: Request) -> Response:
    services = admin_services(request)
    periods = await services.leaderboards.periods(request.path_params["name"])
    return json_response({"periods": [period.to_dict() for period in periods]})
