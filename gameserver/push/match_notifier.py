"""Matchmaking's pushes, delivered to players on whichever gateway holds their socket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameserver.push.control import PlayerMessenger


class GatewayMatchNotifier:
    """The gateway side of `domain.matchmaking.ports.MatchNotifier`."""

    def __init__(self, messenger: PlayerMessenger) -> None:
        self._messenger = messenger

    async def match_found(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        await self._messenger.push(player_ids, event)

    async def ticket_expired(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        await self._messenger.push(player_ids, event)
