"""Socket ops of live board pushes: board.subscribe, board.unsubscribe."""

from __future__ import annotations

from typing import Any

from domain.errors import Unavailable
from gameserver.gateway.dispatch import OpContext, OpHandler
from gameserver.push.board_watch import DEFAULT_TOP, BoardWatch


def _watch(ctx: OpContext) -> BoardWatch:
    watch = ctx.services.board_watch
    if watch is None:
        raise Unavailable("board pushes are not running on this gateway")
    return watch


async def board_subscribe(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    top = body.get("top")
    rank = await _watch(ctx).subscribe(
        ctx.connection, body.get("board"), DEFAULT_TOP if top is None else top
    )
    return {"rank": rank}


async def board_unsubscribe(ctx: OpContext, body: dict[str, Any]) -> None:
    await _watch(ctx).unsubscribe(ctx.connection, body.get("board"))


OPS: dict[str, OpHandler] = {
    "board.subscribe": board_subscribe,
    "board.unsubscribe": board_unsubscribe,
}
