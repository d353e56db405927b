"""Presence: whether players are offline, online, or in a match.

Presence reads two features, sessions (who is online) and matchmaking (who is in a match
without a result yet), so it is a service of its own, built after both: sessions need
not know matchmaking, which itself asks sessions who is online.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.errors import BadRequest
from domain.ids import require_id
from domain.sessions.models import Presence

MAX_PRESENCE_IDS = 100


class LivePlayers(Protocol):
    async def live_players(self, player_ids: Sequence[str]) -> set[str]:
        """The players among `player_ids` that have a live session."""
        ...


class MatchPresence(Protocol):
    async def players_in_match(self, player_ids: Sequence[str]) -> set[str]:
        """The players among `player_ids` in a match that has no result yet."""
        ...


class PresenceService:
    def __init__(self, sessions: LivePlayers, matches: MatchPresence) -> None:
        self._sessions = sessions
        self._matches = matches

    async def get(self, player_ids: object) -> dict[str, Presence]:
        """Each of `player_ids` (a list of at most `MAX_PRESENCE_IDS`) with its presence."""
        if not isinstance(player_ids, list) or len(player_ids) > MAX_PRESENCE_IDS:
            raise BadRequest(f"player_ids must be a list of at most {MAX_PRESENCE_IDS} ids")
        ids = [require_id(p, "player_ids[]") for p in player_ids]
        online = await self._sessions.live_players(ids)
        in_match: set[str] = set()
        if ids:
            in_match = await self._matches.players_in_match(ids)
        result: dict[str, Presence] = {}
        for pid in ids:
            if pid in in_match:
                result[pid] = Presence.IN_MATCH
            elif pid in online:
                result[pid] = Presence.ONLINE
            else:
                result[pid] = Presence.OFFLINE
        return result
