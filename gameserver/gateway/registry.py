"""The sockets open on this gateway, by player: where pushes for a player are delivered."""

from __future__ import annotations

from collections.abc import Iterator

from gameserver.gateway.connection import ClientConnection


class ConnectionRegistry:
    def __init__(self) -> None:
        self._by_player: dict[str, ClientConnection] = {}

    def add(self, connection: ClientConnection) -> ClientConnection | None:
        """Register `connection`; returns the one it displaces for the same player, if any."""
        previous = self._by_player.get(connection.player_id)
        self._by_player[connection.player_id] = connection
        return previous if previous is not connection else None

    def remove(self, connection: ClientConnection) -> None:
        if self._by_player.get(connection.player_id) is connection:
            del self._by_player[connection.player_id]

    def get(self, player_id: str) -> ClientConnection | None:
        return self._by_player.get(player_id)

    def deliver(self, player_id: str, payload: bytes) -> bool:
        connection = self._by_player.get(player_id)
        return connection is not None and connection.send(payload)

    def __iter__(self) -> Iterator[ClientConnection]:
        return iter(list(self._by_player.values()))

    def __len__(self) -> int:
        return len(self._by_player)
