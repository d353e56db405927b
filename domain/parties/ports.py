"""What parties need from the rest of the server, as small Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class PartyEvents(Protocol):
    async def push(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        """Deliver `event` to the players' sockets, on whichever gateway holds them."""
        ...
