"""Everything held about one player, over every feature: its export, and its erasure.

The core features (accounts, sessions, leaderboards, matchmaking) are asked here; other
features join the erasure through `Services.erasure_participants`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from domain.errors import Forbidden, NotFound, PlayerNotFound
from domain.ids import require_id
from gameserver.services import Services

log = logging.getLogger(__name__)


async def kick_if_online(services: Services, player_id: str) -> bool:
    """End the player's session, if any, and close its socket (4403) on its gateway."""
    try:
        ended = await services.sessions.end(player_id)
    except PlayerNotFound:
        return False
    if ended.gateway_id:
        await services.messenger.session_kicked(ended.gateway_id, ended.player_id, ended.session_id)
    return True


async def export_player(services: Services, player_id: object) -> dict[str, Any]:
    """Account, credential kinds, ban, entries on every board and period kept, rating,
    session and its values, the party the player is in; `PlayerNotFound` if none of the
    account, entries and session exists."""
    player = require_id(player_id, "player_id")
    # The features' reads are independent: all of them at once.
    account, entries, session, rating, party = await asyncio.gather(
        services.accounts.find(player),
        services.leaderboards.entries_of_player(player),
        services.sessions.snapshot(player),
        services.matchmaking.rating_of(player),
        _party_of(services, player),
    )
    if account is None and not entries and session is None:
        raise PlayerNotFound(f"no player {player}")
    return {
        "player_id": player,
        "account": None
        if account is None
        else {
            **account.to_dict(),
            "ban": None if account.ban is None else account.ban.to_dict(),
        },
        "boards": [
            {
                "board": board,
                "period": period,
                "rank": entry.rank,
                "score": entry.score,
                "metadata": entry.metadata,
            }
            for board, period, entry in entries
        ],
        "rating": rating.to_dict(),
        "session": None
        if session is None
        else {
            "session_id": session[0].session_id,
            "region": session[0].region,
            "created_at": session[0].created_at,
            "values": session[1],
        },
        "party": party,
    }


async def _party_of(services: Services, player: str) -> dict[str, Any] | None:
    """The party the player is a member of (as `party.get` shows it), or None."""
    party_id = await services.parties.party_of(player)
    if party_id is None:
        return None
    try:
        return await services.parties.get(player, party_id)
    except (Forbidden, NotFound):  # left, or the party ended, since the first read
        return None


async def erase_player(services: Services, player_id: object) -> None:
    """Forget the player everywhere; `PlayerNotFound` if nothing was held about them.

    The account and its credentials go first, so no login recreates the player while
    the rest is erased; the socket is closed (4403) before the data behind it goes.
    """
    player = require_id(player_id, "player_id")
    had_account = await services.accounts.erase(player)
    had_session = await kick_if_online(services, player)
    # The features' data are independent of one another: forgotten all at once.
    removed, *_ = await asyncio.gather(
        services.leaderboards.forget_player(player),
        services.matchmaking.forget_player(player),
        *(participant.forget_player(player) for participant in services.erasure_participants),
    )
    if not (had_account or had_session or removed):
        raise PlayerNotFound(f"no player {player}")
    log.info("erased player %s (%d board entries)", player, removed)
