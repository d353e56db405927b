"""Socket ops of accounts: account.get/update/link/unlink and session.logout."""

from __future__ import annotations

from typing import Any

from gameserver.gateway.dispatch import OpContext, OpHandler

CLOSE_LOGGED_OUT = 1000


async def account_get(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    return (await ctx.services.accounts.get(ctx.player_id)).to_dict()


async def account_update(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    account = await ctx.services.accounts.update(ctx.player_id, body.get("display_name"))
    return account.to_dict()


async def account_link(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    return (await ctx.services.accounts.link(ctx.player_id, body)).to_dict()


async def account_unlink(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    return (await ctx.services.accounts.unlink(ctx.player_id, body)).to_dict()


async def session_logout(ctx: OpContext, body: dict[str, Any]) -> None:
    # The session is gone from the store before the reply: its token opens no socket on
    # any gateway from then on. The socket closes once the reply is out.
    await ctx.services.sessions.logout(ctx.player_id, ctx.session_id)
    ctx.services.registry.remove(ctx.connection)
    ctx.connection.close_after_reply = CLOSE_LOGGED_OUT


OPS: dict[str, OpHandler] = {
    "account.get": account_get,
    "account.update": account_update,
    "account.link": account_link,
    "account.unlink": account_unlink,
    "session.logout": session_logout,
}
