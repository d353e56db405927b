"""uvicorn's WebSocket protocol, with the close code the contract gives a client that lags.

uvicorn pings every socket and fails one that leaves a ping unanswered with 1011
("internal error"). The only client that can ever see that code is one that is alive but
not reading its socket (a dead one reads nothing): a slow consumer, which the gateway
closes with 1013 everywhere else. A pong comes only once the client has read everything
sent before the ping, so a client that stops reading is caught by the keepalive long
before its pushes could fill a queue.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from gameserver.errors import CLOSE_SLOW_CONSUMER


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
