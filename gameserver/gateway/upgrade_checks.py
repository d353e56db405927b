"""Checks on a game socket's upgrade request, made before it is accepted."""

from __future__ import annotations

from collections.abc import Iterable

from gameserver.gateway.asgi_socket import GameWebSocket


class SocketsPerAddress:
    """Open sockets per client address on this gateway process, up to a cap: the game
    sockets, and the admin sockets that have not sent the admin key yet."""

    def __init__(self, cap: int) -> None:
        self._cap = cap  # 0: no cap
        self._open: dict[str, int] = {}

    def acquire(self, address: str) -> bool:
        count = self._open.get(address, 0)
        if self._cap and count >= self._cap:
            return False
        self._open[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)


class AllowedOrigins:
    """The `Origin` values a browser may open the game socket from; empty allows all.

    Only browsers send `Origin`; an upgrade without one (a native client, a server) is
    not a cross-site request and passes.
    """

    def __init__(self, origins: Iterable[str]) -> None:
        self._origins = frozenset(origin.rstrip("/").lower() for origin in origins)

    def allows(self, origin: str | None) -> bool:
        if not self._origins or origin is None:
            return True
        return origin.rstrip("/").lower() in self._origins


def upgrade_token(websocket: GameWebSocket) -> str | None:
    """The session token: `?token=`, else an `Authorization: Bearer` header."""
    token = websocket.query_params.get("token")
    if token:
        return token
    header = websocket.header(b"authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
