"""One open game socket: its identity, its bounded outgoing queue and its writer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from starlette.websockets import WebSocketDisconnect

from gameserver.errors import CLOSE_SLOW_CONSUMER
from gameserver.gateway.asgi_socket import GameWebSocket
from gameserver.gateway.rate_limit import TokenBucket

log = logging.getLogger(__name__)

# How long a close handshake may take before the connection is abandoned.
_CLOSE_TIMEOUT_S = 2.0
# How long a reply may wait for a client that does not read before it is closed.
_REPLY_TIMEOUT_S = 10.0


class ClientConnection:
    """Everything sent to a client goes through `send` (or `reply`), which never blocks.

    A client whose queue is full is closed instead of slowing the gateway or silently
    losing pushes (the same choice as Nakama's SendBytes). An idle socket holds no task,
    no queue and no event: a sender task and its queue exist only while frames wait to go
    out, the `closed` event only once someone waits for it (with 20,000 sockets per
    process, per-socket objects are the gateway's memory: a deque or an `asyncio.Event`
    is ~0.8 KiB each).
    """

    # Slots: tens of thousands of these live at once (no per-instance dict).
    __slots__ = (
        "websocket",
        "player_id",
        "session_id",
        "region",
        "rate_limiter",
        "_on_slow_consumer",
        "_limit",
        "_outbox",
        "_sender",
        "_close_code",
        "close_after_reply",
        "_closed",
        "_ended",
    )

    def __init__(
        self,
        websocket: GameWebSocket,
        player_id: str,
        session_id: str,
        region: str | None,
        *,
        queue_limit: int,
        rate_limiter: TokenBucket,
        on_slow_consumer: Callable[[], None] | None = None,
    ) -> None:
        self.websocket = websocket
        self.player_id = player_id
        self.session_id = session_id
        self.region = region
        self.rate_limiter = rate_limiter
        self._on_slow_consumer = on_slow_consumer
        self._limit = queue_limit
        # Frames waiting for the sender task; None while nothing waits.
        self._outbox: deque[bytes] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._close_code: int | None = None
        # Set by an op that ends the socket once its own reply is out (session.logout).
        self.close_after_reply: int | None = None
        self._closed: asyncio.Event | None = None
        # The close handshake is over (or was abandoned).
        self._ended = False

    @property
    def closed(self) -> asyncio.Event:
        """Set once the socket is closed; made on first use (most sockets never ask)."""
        if self._closed is None:
            self._closed = asyncio.Event()
            if self._ended:
                self._closed.set()
        return self._closed

    def send(self, payload: bytes) -> bool:
        """Queue a frame; False (and the socket is being closed) when the client lags."""
        if self._close_code is not None:
            return False
        outbox = self._outbox
        queued = 0 if outbox is None else len(outbox)
        if queued >= self._limit:
            log.warning("closing slow consumer %s", self.player_id)
            if self._on_slow_consumer is not None:
                self._on_slow_consumer()
            # The queue is full of frames the client isn't reading: drop them and close.
            self._close_code = CLOSE_SLOW_CONSUMER
            self._outbox = None
            if self._sender is not None:
                self._sender.cancel()
            self._sender = asyncio.create_task(self._close_now(CLOSE_SLOW_CONSUMER))
            return False
        if self._sender is None and not queued:
            try:
                if self.websocket.try_send_text(payload.decode()):
                    return True
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.close(1000)
                return False
        if outbox is None:
            outbox = self._outbox = deque()
        outbox.append(payload)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_queued())
        return True

    async def reply(self, payload: bytes) -> None:
        """Send a reply from the socket's own read loop: directly when nothing is queued
        (no task switch), else behind the queued frames."""
        if self._sender is not None or self._outbox or self._close_code is not None:
            self.send(payload)
            return
        text = payload.decode()
        try:
            # Most replies go out at once: no timer to arm and cancel for them.
            if self.websocket.try_send_text(text):
                return
            async with asyncio.timeout(_REPLY_TIMEOUT_S):
                await self.websocket.send_text(text)
        except TimeoutError:
            # The client stopped reading: the read loop must not wait on it forever.
            log.warning(
                "closing slow consumer %s (a reply waited %s s)", self.player_id, _REPLY_TIMEOUT_S
            )
            if self._on_slow_consumer is not None:
                self._on_slow_consumer()
            self.close(CLOSE_SLOW_CONSUMER)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.close(1000)

    def close(self, code: int) -> None:
        """Close after the frames already queued (they may carry the reason)."""
        if self._close_code is not None:
            return
        self._close_code = code
        if self._sender is None:
            self._sender = asyncio.create_task(self._close_now(code))

    @property
    def closing(self) -> bool:
        return self._close_code is not None

    @property
    def busy(self) -> bool:
        """Frames are still queued for the client: a coalescing sender may wait."""
        return bool(self._outbox)

    async def _send_queued(self) -> None:
        try:
            # `send` appends to the queue while this awaits; it is gone once drained.
            while outbox := self._outbox:
                await self.websocket.send_text(outbox.popleft().decode())
                if not outbox:
                    self._outbox = None
        except (WebSocketDisconnect, RuntimeError, OSError):
            self._outbox = None
            if self._close_code is None:
                self._close_code = 1000
        self._sender = None
        if self._close_code is not None:
            self._sender = asyncio.create_task(self._close_now(self._close_code))

    async def _close_now(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code=code), _CLOSE_TIMEOUT_S)
        self._ended = True
        if self._closed is not None:
            self._closed.set()

    async def stop(self) -> None:
        """Stop sending after the socket ended from the client's side."""
        if self._close_code is None:
            self._close_code = 1000
        self._outbox = None
        sender = self._sender
        if sender is not None and not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
