"""Socket ops of matchmaking: match.join, match.cancel, match.status."""

from __future__ import annotations

from typing import Any

from domain.errors import BadRequest
from gameserver.gateway.dispatch import OpContext, OpHandler


async def match_join(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    if "party" in body:
        # Contract v2 dropped the list: it let one client queue others without consent.
        raise BadRequest("the party list is gone: lead a party and send its party_id")
    properties = body.get("properties")
    # A ticket without a region plays in the region the player logged in from.
    if ctx.connection.region is not None:
        if properties is None:
            properties = {"region": ctx.connection.region}
        elif isinstance(properties, dict) and "region" not in properties:
            properties = {**properties, "region": ctx.connection.region}
    ticket = await ctx.services.matchmaking.join(
        body.get("queue"), ctx.player_id, body.get("party_id"), properties
    )
    return {"ticket": ticket}


async def match_cancel(ctx: OpContext, body: dict[str, Any]) -> None:
    await ctx.services.matchmaking.cancel(ctx.player_id, body.get("ticket"))


async def match_status(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    return await ctx.services.matchmaking.status_view(body.get("ticket"), ctx.player_id)


OPS: dict[str, OpHandler] = {
    "match.join": match_join,
    "match.cancel": match_cancel,
    "match.status": match_status,
}
