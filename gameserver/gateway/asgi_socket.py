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
from starlette.websockets import WebSocketDisconnect

SOCKET_PATH = "/v1/ws"


def scope_header(scope: Scope, name: bytes) -> str | None:
    """The first value of the request's header `name` (lower case), if any."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


# The scope extension of a server that writes a frame without awaiting:
# `{"send_text_now": (text) -> bool}`, True once written, False if the frame must go
# through the awaited `send` (gameserver/gateway/socket_protocol.py offers it).
SEND_NOW_EXTENSION = "gameserver.send_now"


class GameWebSocket:
    """One game socket: accept, receive, send text, close."""

    __slots__ = ("app", "_scope", "_receive", "_send", "_send_now")

    def __init__(self, app: Starlette, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self._scope = scope
        self._receive = receive
        self._send = send
        # Other servers than ours offer no synchronous write: every send is awaited.
        extension = (scope.get("extensions") or {}).get(SEND_NOW_EXTENSION)
        self._send_now: Callable[[str], bool] | None = (
            None if extension is None else extension["send_text_now"]
        )

    @property
    def scope(self) -> Scope:
        return self._scope

    @property
    def query_params(self) -> QueryParams:
        return QueryParams(self._scope.get("query_string", b""))

    def header(self, name: bytes) -> str | None:
        """The first value of the upgrade request's header `name` (lower case), if any."""
        return scope_header(self._scope, name)

    async def deny(self, status: int, body: bytes) -> None:
        """Refuse the upgrade with an HTTP response (403 where the server can't send one)."""
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" not in self._scope.get("extensions", {}):
            await self._send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        headers = [(b"content-type", b"application/json")]
        await self._send(
            {"type": "websocket.http.response.start", "status": status, "headers": headers}
        )
        await self._send({"type": "websocket.http.response.body", "body": body})

    async def accept(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise ConnectionError(f"expected websocket.connect, got {message['type']}")
        await self._send({"type": "websocket.accept"})

    async def receive(self) -> Message:
        return await self._receive()

    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    def try_send_text(self, text: str) -> bool:
        """Write a frame now, from synchronous code, if the server takes it without
        waiting; False if it would wait (the client is behind) or can't say. A push to
        thousands of sockets then costs no task per socket. Errors are `send_text`'s."""
        if self._send_now is None:
            return False
        return self._send_now(text)

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


async def next_frame(websocket: GameWebSocket) -> str | bytes | None:
    """The client's next frame, text or binary; None once the client is gone (a
    disconnect, or a receive on a socket that already closed)."""
    try:
        message = await websocket.receive()
    except (WebSocketDisconnect, RuntimeError):
        return None
    if message["type"] == "websocket.disconnect":
        return None
    text: str | None = message.get("text")
    if text is not None:
        return text
    data: bytes = message.get("bytes") or b""
    return data
