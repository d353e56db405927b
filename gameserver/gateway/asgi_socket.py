"""The game socket over raw ASGI: the five calls the gateway makes, and nothing else.

Starlette runs every WebSocket through its middleware stack, its exception-handling
send wrapper and its `WebSocket` state machine: six coroutine frames kept alive per open
socket and three extra awaits per message. The game socket is the gateway's hottest and
most numerous object, so `GatewayApp` hands it the ASGI callables directly; every other
route stays a plain Starlette route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.types import Message, Receive, Scope, Send

SOCKET_PATH = "/v1/ws"


class GameWebSocket:
    """One game socket: accept, receive, send text, close."""

    __slots__ = ("app", "_scope", "_receive", "_send")

    def __init__(self, app: Starlette, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self._scope = scope
        self._receive = receive
        self._send = send

    @property
    def query_params(self) -> QueryParams:
        return QueryParams(self._scope.get("query_string", b""))

    async def accept(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise ConnectionError(f"expected websocket.connect, got {message['type']}")
        await self._send({"type": "websocket.accept"})

    async def receive(self) -> Message:
        return await self._receive()

    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason or ""})


class GatewayApp(Starlette):
    """Starlette, with the game socket's path served by `game_socket` on raw ASGI."""

    def __init__(
        self, *args: Any, game_socket: Callable[[GameWebSocket], Awaitable[None]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._game_socket = game_socket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == SOCKET_PATH:
            scope["app"] = self
            await self._game_socket(GameWebSocket(self, scope, receive, send))
            return
        await super().__call__(scope, receive, send)
