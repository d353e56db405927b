"""Socket ops of leaderboards: submit a score; read top, around, rank and players; list
the boards and join one."""

from __future__ import annotations

from typing import Any

import orjson
from cachetools import LRUCache

from domain.errors import Forbidden
from domain.ids import require_id
from domain.leaderboards.models import Page, SubmitResult
from gameserver.board_entries import DisplayNames, entry_dicts, named_entries, names_of
from gameserver.fields import integer, number, optional_object, optional_text, text, text_list
from gameserver.gateway.dispatch import OpContext, OpHandler


def submit_reply(result: SubmitResult) -> dict[str, Any]:
    return {
        "board": result.board,
        "score": result.score,
        "rank": result.rank,
        "previous_rank": result.previous_rank,
    }


class EncodedPages:
    """The JSON of the entries of the pages last sent, so a page the service hands out
    again whole (`BuiltPages` in domain/leaderboards/caches.py: no sub-board changed) is
    sent without encoding it again (a top 100 is ~35 us to encode).

    Keyed by the page object's id, and each entry holds its page: an id is not reused
    while its entry lives, and the held page is compared by identity all the same.
    Invalidated by a new page (a changed board builds another object) and by a display
    name that differs from the ones encoded (a rename re-encodes). Bound: `size` pages,
    LRU. Off: every page is encoded anew.
    """

    def __init__(self, size: int = 64, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._pages: LRUCache[int, tuple[Page, tuple[str | None, ...], orjson.Fragment]]
        self._pages = LRUCache(maxsize=size)

    async def encoded(self, names: DisplayNames, page: Page) -> orjson.Fragment:
        """The page's entries as JSON, encoded once per page object and set of names."""
        shown = tuple(await names_of(names, page.entries))
        held = self._pages.get(id(page)) if self.enabled else None
        if held is not None and held[0] is page and held[1] == shown:
            return held[2]
        encoded = orjson.Fragment(orjson.dumps(entry_dicts(page.entries, shown)))
        if self.enabled:
            self._pages[id(page)] = (page, shown, encoded)
        return encoded


ENCODED_PAGES = EncodedPages()


async def encoded_entries(
    names: DisplayNames, page: Page, pages: EncodedPages = ENCODED_PAGES
) -> orjson.Fragment:
    """The page's entries as JSON (through `pages`, this gateway's by default)."""
    return await pages.encoded(names, page)


def _player_or_self(ctx: OpContext, body: dict[str, Any]) -> str:
    # Only an absent (or null) `player_id` means the caller: a value given must be a
    # valid id, so "" is a bad request rather than a second spelling of "me".
    player_id = optional_text(body, "player_id")
    if player_id is None:
        return ctx.player_id
    return require_id(player_id, "player_id")


async def score_submit(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    # A player submits only their own scores; trusted servers use the admin API. Naming
    # another player is refused, not quietly turned into a submit of the caller's own.
    if _player_or_self(ctx, body) != ctx.player_id:
        raise Forbidden(
            "a player submits only their own scores; a trusted game server submits for "
            "any player through the admin API (POST /admin/v1/boards/{name}/scores)"
        )
    result = await ctx.services.leaderboards.submit(
        text(body, "board"),
        ctx.player_id,
        number(body, "score"),
        optional_object(body, "metadata"),
        optional_text(body, "request_id"),
    )
    ctx.services.metrics.count_board_write(result.board)
    return submit_reply(result)


async def board_top(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    page = await ctx.services.leaderboards.top(
        text(body, "board"),
        integer(body, "limit", 10),
        optional_text(body, "cursor"),
    )
    return {
        "entries": await encoded_entries(ctx.services.accounts, page),
        "next_cursor": page.next_cursor,
    }


async def board_around(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    entries = await ctx.services.leaderboards.around(
        text(body, "board"),
        _player_or_self(ctx, body),
        integer(body, "radius", 5),
    )
    return {"entries": await named_entries(ctx.services.accounts, entries)}


async def board_rank(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    entry = await ctx.services.leaderboards.rank(
        text(body, "board"),
        _player_or_self(ctx, body),
    )
    return {"player_id": entry.player_id, "rank": entry.rank, "score": entry.score}


async def board_players(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    entries = await ctx.services.leaderboards.players(
        text(body, "board"),
        text_list(body, "player_ids"),
    )
    return {"entries": await named_entries(ctx.services.accounts, entries)}


async def board_list(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    listings = await ctx.services.leaderboards.boards_for(ctx.player_id)
    return {"boards": [listing.to_dict() for listing in listings]}


async def board_join(ctx: OpContext, body: dict[str, Any]) -> dict[str, Any]:
    joined = await ctx.services.leaderboards.join(text(body, "board"), ctx.player_id)
    return {"board": joined.board, "players": joined.players, "joined": True}


OPS: dict[str, OpHandler] = {
    "score.submit": score_submit,
    "board.top": board_top,
    "board.around": board_around,
    "board.rank": board_rank,
    "board.players": board_players,
    "board.list": board_list,
    "board.join": board_join,
}
