"""uvicorn's WebSocket protocol, with the close code the contract gives a client that lags.

uvicorn pings every socket and fails one that leaves a ping unanswered with 1011
("internal error"). The only client that can ever see that code is one that is alive but
not reading its socket (a dead one reads nothing): a slow consumer, which the gateway
closes with 1013 everywhere else. A pong comes only once the client has read everything
sent before the ping, so a client that stops reading is caught by the keepalive long
before its pushes could fill a queue.

On shutdown (SIGTERM) uvicorn closes every open socket with 1012 before the app's own
shutdown runs; the contract's code for a gateway shutting down is 1001.

ASGI's `send` is a coroutine: a push to thousands of sockets would cost a task per
socket. This protocol also offers the app a synchronous write, `send_text_now`, through
the scope's `extensions` (ASGI's place for what a server offers beyond the spec): it
writes a frame at once while the transport takes writes, and declines while asyncio's
flow control has paused writing (the client is behind), so the caller queues the frame
and awaits `send`, which waits for the transport to drain.
"""

from __future__ import annotations

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

from gameserver.errors import CLOSE_GOING_AWAY, CLOSE_SLOW_CONSUMER
from gameserver.gateway.asgi_socket import SEND_NOW_EXTENSION


class GameSocketProtocol(WebSocketsSansIOProtocol):
    async def run_asgi(self) -> None:
        extensions = self.scope.setdefault("extensions", {})
        extensions[SEND_NOW_EXTENSION] = {"send_text_now": self.send_text_now}
        await super().run_asgi()

    def send_text_now(self, text: str) -> bool:
        """Write a text frame now; False, with nothing written, if it would have to wait
        (writing is paused) or the socket is not open for frames (not accepted yet, or
        closing): the caller then awaits `send`. `ClientDisconnected` once the client is
        gone, as `send` raises it."""
        if self.disconnected:
            raise ClientDisconnected()
        if (
            not self.writable.is_set()  # uvicorn's own flow-control gate: paused
            or not self.handshake_complete
            or self.close_sent
            or self.initial_response is not None
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            raise ClientDisconnected() from None
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def keepalive_timeout(self) -> None:
        # As uvicorn's own, but with the slow consumer's close code.
        self.pong_timer = None
        self.pending_ping_payload = None
        if self.close_sent or self.transport.is_closing():
            return
        self.logger.info("closing a socket that left a ping unanswered (slow consumer)")
        self.conn.fail(CLOSE_SLOW_CONSUMER, "client stopped reading")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.close()

    def shutdown(self) -> None:
        # As uvicorn's own, but with the going-away close code of the contract.
        if self.close_sent or not self.handshake_complete or self.initial_response is not None:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": CLOSE_GOING_AWAY})
        self.conn.send_close(CLOSE_GOING_AWAY, "gateway shutting down")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()
