"""`/admin/v1/ws`: the admin push channel, live board tops for the dashboard.

A browser cannot set headers on a WebSocket and the key must never ride in a URL, so
the key comes in the first frame, `{"op": "admin.auth", "key": "..."}` (a server may
send `Authorization: Bearer <key>` on the upgrade instead). Then `board.subscribe` and
`board.unsubscribe` watch boards through the gateway's `BoardWatch`, as game sockets do,
and `board.top` pushes follow each change of a watched board's top.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from starlette.types import Receive, Scope, Send

from domain.errors import BadRequest, DomainError
from gameserver.admin.access import KEY_REFUSED
from gameserver.admin.auth import admin_key_matches
from gameserver.errors import CLOSE_KICKED, CLOSE_UNAUTHORIZED, error_payload, wire_error
from gameserver.gateway.asgi_socket import GameWebSocket, next_frame
from gameserver.gateway.connection import ClientConnection
from gameserver.gateway.envelope import UnparsableFrame, parse_frame, reply_error, reply_ok
from gameserver.gateway.rate_limit import TokenBucket
from gameserver.http.listeners import served_on
from gameserver.push.board_watch import DEFAULT_TOP
from gameserver.services import Services

log = logging.getLogger(__name__)

SOCKET_PATH = "/admin/v1/ws"
# How long an accepted socket may take to send its `admin.auth` frame.
AUTH_TIMEOUT_S = 10.0
# Frames an admin socket may send: a dashboard subscribes a few boards, then listens.
_RATE_PER_S, _BURST = 20.0, 100
# Boards one admin socket may watch: every board of a studio's game, where a game socket
# watches at most 20 (board_watch.MAX_BOARDS_PER_SOCKET).
MAX_BOARDS = 500
_CLOSE_GRACE_S = 2.0


class AdminSocket:
    """The ASGI app of `/admin/v1/ws` (a Starlette `WebSocketRoute` endpoint)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = GameWebSocket(scope["app"], scope, receive, send)
        services: Services = websocket.app.state.services
        if not served_on(scope, services.settings.admin_port, services.settings.metrics_port):
            await websocket.deny(404, error_payload("not_found", f"no endpoint {SOCKET_PATH}"))
            return
        # A socket waits up to AUTH_TIMEOUT_S for its key: capped per address, so that one
        # address cannot hold sockets by the thousand without knowing the key.
        awaiting = services.admin_sockets_awaiting_key
        address = services.client_addresses.limited_as(scope)
        if not awaiting.acquire(address):
            services.metrics.count_refusal("sockets_per_address")
            message = "too many admin sockets waiting for admin.auth from this address"
            await websocket.deny(429, error_payload("rate_limited", message))
            return
        try:
            key, auth_id = await _accept_and_read_key(websocket)
        finally:
            awaiting.release(address)
        if key is None:
            await websocket.close(CLOSE_UNAUTHORIZED, "admin key required: admin.auth first")
            return
        if not admin_key_matches(services.settings.admin_key, key):
            # Counted against the caller's address by AdminAccess, as a wrong HTTP key is.
            scope.setdefault("state", {})[KEY_REFUSED] = True
            await websocket.close(CLOSE_KICKED, "wrong admin key")
            return
        await _serve(websocket, services, auth_id)


async def _accept_and_read_key(websocket: GameWebSocket) -> tuple[str | None, Any]:
    """Accept, then the key (none if not given) and the `admin.auth` request id."""
    await websocket.accept()
    header = websocket.header(b"authorization")
    if header is None:
        return await _first_frame_key(websocket)
    # Never from the URL (`?token=` is the game socket's, not this one's).
    scheme, _, value = header.partition(" ")
    return (value.strip() if scheme.lower() == "bearer" and value.strip() else None), None


async def _first_frame_key(websocket: GameWebSocket) -> tuple[str | None, Any]:
    """The key and request id of an `admin.auth` first frame; no key if it is not one."""
    try:
        message = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
    except TimeoutError:
        return None, None
    if message["type"] != "websocket.receive":
        return None, None
    try:
        request = parse_frame(message.get("text") or message.get("bytes") or b"")
    except UnparsableFrame:
        return None, None
    key = request.body.get("key")
    if request.op != "admin.auth" or not isinstance(key, str) or not key:
        return None, None
    return key, request.id


async def _serve(websocket: GameWebSocket, services: Services, auth_id: Any) -> None:
    # A watcher id no player has: BoardWatch keys subscriptions by player id, and an admin
    # socket must never replace a player's subscription (nor another admin's).
    watcher_id = f"admin.ws.{secrets.token_hex(12)}"
    connection = ClientConnection(
        websocket,
        watcher_id,
        watcher_id,
        None,
        # Room for the first top of every board it watches, pushed as it subscribes.
        queue_limit=max(services.settings.outgoing_queue_limit, 2 * MAX_BOARDS),
        rate_limiter=TokenBucket(_RATE_PER_S, _BURST),
    )
    # `admin.auth` is answered only once the key is known good.
    await connection.reply(reply_ok(auth_id, {"admin": True}))
    try:
        while not connection.closing:
            frame = await next_frame(websocket)
            if frame is None:
                return
            await connection.reply(await _handle(services, connection, frame))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connection.closed.wait(), _CLOSE_GRACE_S)
    finally:
        await connection.stop()
        if services.board_watch is not None:
            await services.board_watch.forget(connection)


async def _handle(services: Services, connection: ClientConnection, frame: str | bytes) -> bytes:
    try:
        request = parse_frame(frame)
    except UnparsableFrame as exc:
        return reply_error(None, "bad_request", str(exc))
    if not connection.rate_limiter.try_take():
        return reply_error(request.id, "rate_limited", "too many messages; slow down")
    try:
        result = await _dispatch(services, connection, request.op, request.body)
    except DomainError as exc:
        return reply_error(request.id, wire_error(exc).code, exc.message)
    except Exception:
        log.exception("admin socket op %s failed", request.op)
        return reply_error(request.id, "internal", "internal error")
    return reply_ok(request.id, result)


async def _dispatch(
    services: Services, connection: ClientConnection, op: str, body: dict[str, Any]
) -> dict[str, Any]:
    watch = services.board_watch
    if watch is None:
        raise BadRequest("board pushes are not running on this gateway")
    if op == "board.subscribe":
        await watch.subscribe(
            connection, body.get("board"), body.get("top", DEFAULT_TOP), max_boards=MAX_BOARDS
        )
        return {"board": body.get("board")}
    if op == "board.unsubscribe":
        await watch.unsubscribe(connection, body.get("board"))
        return {"board": body.get("board")}
    if op == "admin.auth":
        raise BadRequest("already authenticated")
    raise BadRequest(f"unknown op on the admin socket: {op[:64]}")
