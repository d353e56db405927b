"""The one dispatch table of the game socket: op name to handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gameserver.gateway.connection import ClientConnection
from gameserver.services import Services


@dataclass(frozen=True, slots=True)
class OpContext:
    services: Services
    connection: ClientConnection

    @property
    def player_id(self) -> str:
        return self.connection.player_id

    @property
    def session_id(self) -> str:
        return self.connection.session_id


OpHandler = Callable[[OpContext, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def build_op_table() -> dict[str, OpHandler]:
    from gameserver.gateway.ops import (
        accounts,
        board_push,
        leaderboards,
        matchmaking,
        parties,
        sessions,
    )

    table: dict[str, OpHandler] = {}
    for module_ops in (
        sessions.OPS,
        accounts.OPS,
        leaderboards.OPS,
        board_push.OPS,
        matchmaking.OPS,
        parties.OPS,
    ):
        overlap = table.keys() & module_ops.keys()
        if overlap:
            raise RuntimeError(f"ops registered twice: {sorted(overlap)}")
        table.update(module_ops)
    return table
