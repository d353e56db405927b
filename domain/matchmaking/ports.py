"""What matchmaking needs from the rest of the server, as small Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class LiveSessions(Protocol):
    async def live_players(self, player_ids: Sequence[str]) -> set[str]:
        """The players among `player_ids` that have a live session."""
        ...


class PartyRoster(Protocol):
    async def members_led_by(self, party_id: object, leader: str) -> tuple[str, ...]:
        """The party's members, leader first; `Forbidden` unless `leader` leads it."""
        ...


class MatchNotifier(Protocol):
    """Delivers pushes to players on whichever gateway holds their socket.

    Events are complete wire messages (docs/protocol.md) plus `ts`, the server time
    in milliseconds when the push was sent, for push-lag measurement.
    """

    async def match_found(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        """Send `{"event": "match.found", "match_id", "queue", "teams", "ticket", "server",
        "backfill", "properties", "ts"}`."""
        ...

    async def ticket_expired(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        """Send `{"event": "match.expired", "ticket", "ts"}`."""
        ...


class RankedBoardSink(Protocol):
    async def check(self, board: str) -> None:
        """Raise unless `board` can take rating ordinals: `BoardNotFound` if it does not
        exist, `BadRequest` unless its operator is `set`."""
        ...

    async def submit(self, board: str, player_id: str, score: float) -> None:
        """Set `player_id`'s score on `board` (a board with the `set` operator)."""
        ...


class ServerAllocator(Protocol):
    async def allocate(
        self, url: str, request: dict[str, Any], idempotency_key: str, timeout_s: float
    ) -> dict[str, Any]:
        """POST `request` to `url`; the JSON object it answers with a 2xx status.

        Raises on anything else (a status out of 2xx, a body that is not a JSON object, no
        answer within `timeout_s`). `idempotency_key` is the match id: a repeated call
        with the same key is the same match asking again.
        """
        ...


class MatchObserver(Protocol):
    def matches_made(self, queue: str, matches: int, waits_s: Sequence[float]) -> None:
        """`matches` of `queue` were committed; their tickets waited `waits_s` seconds."""
        ...
