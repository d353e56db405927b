"""Socket ops of parties: create, invite, accept, decline, leave, kick, get."""

from __future__ import annotations

from typing import Any

from gameserver.gateway.dispatch import OpContext, OpHandler


async def party_create(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    return {"party_id": await ctx.services.parties.create(ctx.player_id)}


async def party_invite(ctx: OpContext, body: dict[str, Any]) -> None:
    await ctx.services.parties.invite(ctx.player_id, body.get("party_id"), body.get("player_id"))


async def party_accept(ctx: OpContext, body: dict[str, Any]) -> None:
    await ctx.services.parties.accept(ctx.player_id, body.get("party_id"))


async def party_decline(ctx: OpContext, body: dict[str, Any]) -> None:
    await ctx.services.parties.decline(ctx.player_id, body.get("party_id"))


async def party_leave(ctx: OpContext, body: dict[str, Any]) -> None:
    await ctx.services.parties.leave(ctx.player_id, body.get("party_id"))


async def party_kick(ctx: OpContext, body: dict[str, Any]) -> None:
    await ctx.services.parties.kick(ctx.player_id, body.get("party_id"), body.get("player_id"))


async def party_get(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    return await ctx.services.parties.get(ctx.player_id, body.get("party_id"))


OPS: dict[str, OpHandler] = {
    "party.create": party_create,
    "party.invite": party_invite,
    "party.accept": party_accept,
    "party.decline": party_decline,
    "party.leave": party_leave,
    "party.kick": party_kick,
    "party.get": party_get,
}
