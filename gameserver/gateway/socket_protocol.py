"""uvicorn's WebSocket protocol, with the close code the contract gives a client that lags.

uvicorn pings every socket and fails one that leaves a ping unanswered with 1011
("internal error"). The only client that can ever see that code is one that is alive but
not reading its socket (a dead one reads nothing): a slow consumer, which the gateway
closes with 1013 everywhere else. A pong comes only once the client has read everything
sent before the ping, so a client that stops reading is caught by the keepalive long
before its pushes could fill a queue.

On shutdown (SIGTERM) uvicorn closes every open socket with 1012 before the app's own
shutdown runs; the contract's code for a gateway shutting down is 1001.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from gameserver.errors import CLOSE_GOING_AWAY, CLOSE_SLOW_CONSUMER


class GameSocketProtocol(WebSocketsSansIOProtocol):
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
