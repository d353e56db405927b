"""One sharded-pub/sub subscription per process, routed to a handler per channel."""

from __future__ import annotations

import logging
from collections.abc import Callable

from valkey.asyncio.cluster import ValkeyCluster

from gameserver.push.sharded_subscriber import ShardedSubscriber

log = logging.getLogger(__name__)

ChannelHandler = Callable[[bytes], None]
# Called when a channel's messages may have been lost (it was subscribed again).
GapHandler = Callable[[], None]


class PushHub:
    def __init__(self, cluster: ValkeyCluster) -> None:
        self._handlers: dict[bytes, ChannelHandler] = {}
        self._gap_handlers: dict[bytes, GapHandler] = {}
        self._subscriber = ShardedSubscriber(
            cluster, self._on_message, on_resubscribed=self._on_resubscribed
        )

    async def start(self) -> None:
        await self._subscriber.start()

    async def listen(
        self, channel: str, handler: ChannelHandler, on_gap: GapHandler | None = None
    ) -> None:
        key = channel.encode()
        first = key not in self._handlers
        self._handlers[key] = handler
        if on_gap is not None:
            self._gap_handlers[key] = on_gap
        if first:
            await self._subscriber.subscribe(key)
            await self._subscriber.wait_subscribed()

    async def unlisten(self, channel: str) -> None:
        self._gap_handlers.pop(channel.encode(), None)
        if self._handlers.pop(channel.encode(), None) is not None:
            await self._subscriber.unsubscribe(channel.encode())

    def _on_message(self, channel: bytes, data: bytes) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            return
        try:
            handler(data)
        except Exception:  # one bad message must not stop the subscriber
            log.exception("push handler for %r failed", channel)

    def _on_resubscribed(self, channel: bytes) -> None:
        handler = self._gap_handlers.get(channel)
        if handler is not None:
            handler()

    async def aclose(self) -> None:
        await self._subscriber.aclose()
