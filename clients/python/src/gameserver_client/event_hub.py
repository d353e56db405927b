"""Delivers events to callbacks and to async-iterable streams."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from gameserver_client.events import Closed, Event

log = logging.getLogger("gameserver_client")

E = TypeVar("E")

_END = object()


class EventStream(Generic[E]):
    """Events of the chosen kinds from the moment the stream is made, in arrival order.

    Iterate with `async for`, or take one with `await stream.next(timeout=...)`. The
    stream ends after the client's `Closed` event. At most `max_queued` events wait
    unread; beyond that the oldest is dropped (and logged)."""

    def __init__(self, hub: EventHub, kinds: tuple[type[Any], ...], max_queued: int = 1000) -> None:
        self._hub = hub
        self._kinds = kinds
        self._queue: asyncio.Queue[object] = asyncio.Queue(max_queued)
        self._ended = False

    def _offer(self, event: Event) -> None:
        if self._kinds and not isinstance(event, self._kinds):
            if isinstance(event, Closed):
                self._put(_END)
            return
        self._put(event)
        if isinstance(event, Closed):
            self._put(_END)

    def _put(self, item: object) -> None:
        if self._queue.full():
            dropped = self._queue.get_nowait()
            log.warning("event stream full: dropped %r", dropped)
        self._queue.put_nowait(item)

    def __aiter__(self) -> EventStream[E]:
        return self

    async def __anext__(self) -> E:
        if self._ended:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            self._ended = True
            self.close()
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def next(self, timeout: float | None = None) -> E:
        """The next event; `TimeoutError` after `timeout` s, `StopAsyncIteration` at the end."""
        async with asyncio.timeout(timeout):
            return await self.__anext__()

    def close(self) -> None:
        """Stop receiving events."""
        self._hub.streams.discard(self)

    def __enter__(self) -> EventStream[E]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Callback = Callable[[Any], Awaitable[None] | None]


class EventHub:
    def __init__(self) -> None:
        self.streams: set[EventStream[Any]] = set()
        self._callbacks: list[tuple[tuple[type[Any], ...], Callback]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def add_callback(self, kinds: tuple[type[Any], ...], callback: Callback) -> Callable[[], None]:
        entry = (kinds, callback)
        self._callbacks.append(entry)

        def remove() -> None:
            if entry in self._callbacks:
                self._callbacks.remove(entry)

        return remove

    def emit(self, event: Event) -> None:
        for stream in list(self.streams):
            stream._offer(event)
        for kinds, callback in list(self._callbacks):
            if kinds and not isinstance(event, kinds):
                continue
            try:
                result = callback(event)
            except Exception:
                log.exception("event callback failed for %r", event)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(self._run(result, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(result: Awaitable[None], event: Event) -> None:
        try:
            await result
        except Exception:
            log.exception("event callback failed for %r", event)
