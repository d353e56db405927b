"""The game socket: authenticate, then read, dispatch and answer messages one by one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from domain.errors import DomainError, Unauthorized
from gameserver.errors import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_REPLACED,
    CLOSE_UNAUTHORIZED,
    error_payload,
    wire_error,
)
from gameserver.gateway.asgi_socket import GameWebSocket, next_frame
from gameserver.gateway.connection import ClientConnection
from gameserver.gateway.dispatch import OpContext, OpHandler
from gameserver.gateway.envelope import (
    Request,
    UnparsableFrame,
    describe_unknown_op,
    parse_frame,
    reply_error,
    reply_ok,
)
from gameserver.gateway.rate_limit import TokenBucket
from gameserver.gateway.upgrade_checks import upgrade_token
from gameserver.http.listeners import served_on
from gameserver.push.events import push_event
from gameserver.services import Services

log = logging.getLogger(__name__)

# How long a socket closed by the gateway may take to send its close frame.
_CLOSING_GRACE_S = 5.0


async def game_socket(websocket: GameWebSocket) -> None:
    services: Services = websocket.app.state.services
    settings = services.settings
    if not served_on(websocket.scope, settings.admin_port, settings.metrics_port):
        await websocket.deny(404, error_payload("not_found", "no endpoint /v1/ws"))
        return
    if not services.allowed_origins.allows(websocket.header(b"origin")):
        services.metrics.count_refusal("origin")
        await websocket.deny(403, error_payload("forbidden", "this origin may not open the socket"))
        return
    address = services.client_addresses.limited_as(websocket.scope)
    if not services.sockets_per_address.acquire(address):
        services.metrics.count_refusal("sockets_per_address")
        message = "too many open sockets from this address"
        await websocket.deny(429, error_payload("rate_limited", message))
        return
    try:
        await _serve_socket(websocket, services)
    finally:
        services.sockets_per_address.release(address)


async def _serve_socket(websocket: GameWebSocket, services: Services) -> None:
    settings = services.settings
    try:
        claims = services.sessions.verify(upgrade_token(websocket))
        attached = await services.sessions.attach(claims, settings.gateway_id)
    except Unauthorized:
        # Accept first so the client sees the close code, not an HTTP 403.
        await websocket.accept()
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    await websocket.accept()
    connection = ClientConnection(
        websocket,
        claims.player_id,
        claims.session_id,
        attached.session.region,
        queue_limit=settings.outgoing_queue_limit,
        rate_limiter=TokenBucket(
            settings.rate_limit_per_s, settings.rate_limit_burst, settings.rate_limit_close_after_s
        ),
        on_slow_consumer=services.metrics.slow_consumers.inc,
    )
    previous = services.registry.add(connection)
    if previous is not None:
        # A second socket of the same session on this gateway: the newest wins.
        previous.send(push_event("session.replaced"))
        previous.close(CLOSE_REPLACED)
    services.metrics.sockets_open.inc()
    context = OpContext(services, connection)
    ops: dict[str, OpHandler] = websocket.app.state.ops
    try:
        await _read_loop(websocket, context, ops)
    finally:
        services.metrics.sockets_open.dec()
        services.registry.remove(connection)
        await connection.stop()
        if services.board_watch is not None:
            await services.board_watch.forget(connection)
        await _on_socket_gone(context)


async def _read_loop(websocket: GameWebSocket, ctx: OpContext, ops: dict[str, OpHandler]) -> None:
    connection = ctx.connection
    await _read_messages(websocket, ctx, ops)
    if connection.closing:
        # Closed from our side (a flood, a slow consumer, a logout): the close frame, and the
        # frames queued before it, go out before the socket is torn down.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(connection.closed.wait(), _CLOSING_GRACE_S)


async def _read_messages(
    websocket: GameWebSocket, ctx: OpContext, ops: dict[str, OpHandler]
) -> None:
    connection = ctx.connection
    while not connection.closing:
        frame = await next_frame(websocket)
        if frame is None:
            return
        await connection.reply(await handle_frame(ctx, ops, frame))
        if connection.close_after_reply is not None:
            # The op ended the session (session.logout): close once its reply is out;
            # the read loop lets the close handshake finish.
            connection.close(connection.close_after_reply)
            return
        if connection.rate_limiter.flooding:
            # Over its message rate for seconds on end: not a client that backs off.
            ctx.services.metrics.count_refusal("message_flood")
            connection.close(CLOSE_POLICY_VIOLATION)


async def handle_frame(ctx: OpContext, ops: dict[str, OpHandler], frame: str | bytes) -> bytes:
    metrics = ctx.services.metrics
    try:
        request = parse_frame(frame)
    except UnparsableFrame as exc:
        metrics.count_error("?", "bad_request")
        return reply_error(None, "bad_request", str(exc))
    if not ctx.connection.rate_limiter.try_take():
        # Only known ops become label values: a client must not grow the metrics.
        metrics.count_error(request.op if request.op in ops else "?", "rate_limited")
        return reply_error(request.id, "rate_limited", "too many messages; slow down")
    return await _dispatch(ctx, ops, request)


async def _dispatch(ctx: OpContext, ops: dict[str, OpHandler], request: Request) -> bytes:
    metrics = ctx.services.metrics
    handler = ops.get(request.op)
    if handler is None:
        metrics.count_error("?", "bad_request")
        return reply_error(request.id, "bad_request", describe_unknown_op(request.op))
    started = time.perf_counter()
    try:
        result: dict[str, Any] | None = await handler(ctx, request.body)
        reply = reply_ok(request.id, result)
    except DomainError as exc:
        code = wire_error(exc).code
        metrics.count_error(request.op, code)
        reply = reply_error(request.id, code, exc.message)
    except Exception:
        log.exception("op %s failed", request.op)
        metrics.count_error(request.op, "internal")
        reply = reply_error(request.id, "internal", "internal error")
    metrics.count_request(request.op, time.perf_counter() - started)
    return reply


async def _on_socket_gone(ctx: OpContext) -> None:
    """Release the session's claim on this gateway; the session then idles out on its TTL."""
    try:
        await ctx.services.sessions.detach(
            ctx.player_id, ctx.session_id, ctx.services.settings.gateway_id
        )
    except Exception:  # the cluster may be failing over; the TTL ends the session anyway
        log.warning("could not detach session of %s", ctx.player_id, exc_info=True)
