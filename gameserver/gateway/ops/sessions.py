"""Socket ops of sessions and presence: ping, session.set, session.get, presence.get."""

from __future__ import annotations

from typing import Any

from gameserver.gateway.dispatch import OpContext, OpHandler


async def ping(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    return {"server_time": int(ctx.services.clock.now() * 1000)}


async def session_set(ctx: OpContext, body: dict[str, Any]) -> None:
    await ctx.services.sessions.set_values(ctx.player_id, ctx.session_id, body.get("values"))


async def session_get(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    values = await ctx.services.sessions.get_values(ctx.player_id, body.get("keys"))
    return {"values": values}


async def presence_get(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    presence = await ctx.services.presence.get(body.get("player_ids"))
    return {"players": {pid: state.value for pid, state in presence.items()}}


OPS: dict[str, OpHandler] = {
    "ping": ping,
    "session.set": session_set,
    "session.get": session_get,
    "presence.get": presence_get,
}
