"""Socket ops of live board pushes: board.subscribe, board.unsubscribe."""

from __future__ import annotations

from gameserver.gateway.dispatch import OpHandler

OPS: dict[str, OpHandler] = {}
