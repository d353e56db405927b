"""Live board pushes of one gateway process: which socket watches which board.

Each watched board has one `BoardFeed` that listens to the board's shard channels (one
per sub-board) while it has local subscribers, so a write reaches each gateway once,
however many of its sockets watch the board, and is fanned out here.
"""

from __future__ import annotations

import asyncio
import logging

from domain.errors import BoardNotFound, Conflict, Unavailable
from domain.ids import require_id
from domain.leaderboards.rules import MAX_LIMIT, require_int
from domain.leaderboards.service import LeaderboardService
from gameserver.board_entries import DisplayNames
from gameserver.gateway.connection import ClientConnection
from gameserver.metrics import Metrics
from gameserver.push.board_feed import BoardFeed
from gameserver.push.board_schedule import PushPacing
from gameserver.push.hub import PushHub

log = logging.getLogger(__name__)

DEFAULT_TOP = 10
MAX_BOARDS_PER_SOCKET = 20


class BoardWatch:
    def __init__(
        self,
        leaderboards: LeaderboardService,
        hub: PushHub,
        metrics: Metrics,
        pacing: PushPacing | None = None,
        *,
        max_boards_per_socket: int = MAX_BOARDS_PER_SOCKET,
        names: DisplayNames | None = None,
    ) -> None:
        self._leaderboards = leaderboards
        self._names = names
        self._hub = hub
        self._metrics = metrics
        self._pacing = pacing or PushPacing()
        self._max_boards = max_boards_per_socket
        self._feeds: dict[str, BoardFeed] = {}
        self._boards_of: dict[ClientConnection, set[str]] = {}
        # Serialises opening and retiring feeds, so that the channels of one board are
        # never listened to by a new feed and unlistened by an old one at the same time.
        self._lock = asyncio.Lock()
        self._closed = False

    def watched_boards(self) -> list[str]:
        """The boards this gateway listens to (each has local subscribers)."""
        return sorted(self._feeds)

    async def subscribe(
        self,
        connection: ClientConnection,
        board: object,
        top: object,
        *,
        max_boards: int | None = None,
    ) -> int | None:
        """Watch `board` from this socket with its top `top` entries; the own rank now.

        A socket watches at most `max_boards` boards (the gateway's limit by default)."""
        name = require_id(board, "board")
        limit = require_int(top, 0, MAX_LIMIT, "top")
        most = self._max_boards if max_boards is None else max_boards
        boards = self._boards_of.get(connection, set())
        if name not in boards and len(boards) >= most:
            raise Conflict(f"a socket may watch at most {most} boards")
        if self._closed:
            raise Unavailable("the gateway is shutting down")
        feed = await self._feed(name)
        previous = feed.subscriptions.get(connection.player_id)
        try:
            rank = await feed.join(connection.player_id, connection, limit)
        except Exception:
            await self._retire_if_empty(feed)
            raise
        if feed.closing:  # retired while we waited: the board was deleted
            feed.remove(connection.player_id, connection)
            raise BoardNotFound(f"no board named {name}")
        self._boards_of.setdefault(connection, set()).add(name)
        if previous is not None and previous.connection is not connection:
            self._drop_board_of(previous.connection, name)
        return rank

    async def unsubscribe(self, connection: ClientConnection, board: object) -> None:
        name = require_id(board, "board")
        if name not in self._boards_of.get(connection, ()):
            await self._leaderboards.get_board(name)  # not_found for an unknown board
            return
        self._drop_board_of(connection, name)
        await self._leave(name, connection)

    async def forget(self, connection: ClientConnection) -> None:
        """Drop every subscription of a closed socket; never raises."""
        for name in sorted(self._boards_of.pop(connection, ())):
            try:
                await self._leave(name, connection)
            except Exception:
                log.warning("could not stop watching %s", name, exc_info=True)

    async def aclose(self) -> None:
        self._closed = True
        async with self._lock:
            feeds, self._feeds = list(self._feeds.values()), {}
            for feed in feeds:
                await feed.close()
        self._boards_of.clear()

    async def _feed(self, name: str) -> BoardFeed:
        feed = self._feeds.get(name)
        if feed is not None and not feed.closing:
            return feed
        async with self._lock:
            feed = self._feeds.get(name)
            if feed is not None:
                if not feed.closing:
                    return feed
                await self._discard(feed)
            feed = BoardFeed(
                name,
                self._leaderboards,
                self._hub,
                self._metrics,
                self._pacing,
                self._retire,
                self._names,
            )
            await feed.open()
            self._feeds[name] = feed
            return feed

    async def _leave(self, name: str, connection: ClientConnection) -> None:
        feed = self._feeds.get(name)
        if feed is not None:
            feed.remove(connection.player_id, connection)
            await self._retire_if_empty(feed)

    async def _retire_if_empty(self, feed: BoardFeed) -> None:
        if feed.empty and not feed.closing:
            feed.closing = True
            await self._retire(feed)

    async def _retire(self, feed: BoardFeed) -> None:
        """Forget a feed (no subscribers left, or its board deleted) and stop its channels."""
        feed.closing = True
        async with self._lock:
            await self._discard(feed)

    async def _discard(self, feed: BoardFeed) -> None:
        # Under the lock; a feed may get here twice (its own task and a new subscriber).
        if self._feeds.get(feed.name) is not feed:
            return
        del self._feeds[feed.name]
        for subscription in feed.subscriptions.values():
            self._drop_board_of(subscription.connection, feed.name)
        await feed.close()

    def _drop_board_of(self, connection: ClientConnection, name: str) -> None:
        boards = self._boards_of.get(connection)
        if boards is not None:
            boards.discard(name)
            if not boards:
                del self._boards_of[connection]
