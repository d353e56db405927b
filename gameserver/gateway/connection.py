"""One open game socket: its identity, its bounded outgoing queue and its writer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from gameserver.errors import CLOSE_SLOW_CONSUMER
from gameserver.gateway.rate_limit import TokenBucket

log = logging.getLogger(__name__)

# How long a close handshake may take before the connection is abandoned.
_CLOSE_TIMEOUT_S = 2.0


class ClientConnection:
    """Everything sent to a client goes through `send`, which never blocks.

    A client whose queue is full is closed instead of slowing the gateway or silently
    losing pushes (the same choice as Nakama's SendBytes).
    """

    def __init__(
        self,
        websocket: WebSocket,
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
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_limit)
        self._writer: asyncio.Task[None] | None = None
        self._close_code: int | None = None
        self.closed = asyncio.Event()

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.player_id}")

    def send(self, payload: bytes) -> bool:
        """Queue a frame; False (and the socket is being closed) when the client lags."""
        if self._close_code is not None:
            return False
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("closing slow consumer %s", self.player_id)
            if self._on_slow_consumer is not None:
                self._on_slow_consumer()
            self.close(CLOSE_SLOW_CONSUMER)
            return False
        return True

    def close(self, code: int) -> None:
        """Close after the frames already queued (they may carry the reason)."""
        if self._close_code is not None:
            return
        self._close_code = code
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            # The queue is full of frames the client isn't reading: drop them and close.
            if self._writer is not None:
                self._writer.cancel()
            asyncio.create_task(self._close_now(code))

    @property
    def closing(self) -> bool:
        return self._close_code is not None

    async def _write_loop(self) -> None:
        try:
            while True:
                payload = await self._queue.get()
                if payload is None:
                    break
                await self.websocket.send_text(payload.decode())
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            await self._close_now(self._close_code or 1000)

    async def _close_now(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code=code), _CLOSE_TIMEOUT_S)
        self.closed.set()

    async def stop(self) -> None:
        """Stop the writer after the socket ended from the client's side."""
        if self._close_code is None:
            self._close_code = 1000
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
