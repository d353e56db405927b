"""One board's live pushes on this gateway: the I/O around its `BoardState`.

The board's state (each subscription's rank, the top, the period) lives in one
`BoardState`, which alone changes it; this feed does the I/O that state asks for. The
pub/sub callback hands it the board's change events; the flusher, one task per board,
re-queries the stale ranks in one batch, reads the top, checks the period, and writes
the pushes the state answers: `rank.changed` to those whose rank differs from the last
one they were told, `board.top` to those whose top slice changed (one encoded frame per
top length), paced by `FlushSchedule`. Every frame goes through the socket's one writer,
`ClientConnection.send`. After the board goes quiet every subscriber is re-queried
once, so a lost pub/sub message can't leave a stale rank behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from domain.errors import BoardNotFound, Unavailable
from domain.leaderboards.service import LeaderboardService
from gameserver.board_entries import DisplayNames, named_entries
from gameserver.gateway.connection import ClientConnection
from gameserver.metrics import Metrics
from gameserver.push.board_schedule import PushPacing
from gameserver.push.board_state import (
    BoardLife,
    BoardState,
    RankPush,
    RankState,
    Subscription,
    TopPush,
)
from gameserver.push.events import push_event
from gameserver.push.hub import PushHub

__all__ = ["BoardFeed", "Subscription"]

log = logging.getLogger(__name__)

# Pause of a flusher after a failed query (the cluster may be failing over).
_RETRY_S = 0.5
# A flush hands the event loop back after this many subscribers: pushes are written
# inline, and thousands of them must not hold up every other socket's replies.
_YIELD_EVERY = 256

Retire = Callable[["BoardFeed"], Awaitable[None]]


class BoardFeed:
    def __init__(
        self,
        name: str,
        leaderboards: LeaderboardService,
        hub: PushHub,
        metrics: Metrics,
        pacing: PushPacing,
        retire: Retire,
        names: DisplayNames | None = None,
    ) -> None:
        self.name = name
        self._names = names
        # Set once the feed is being retired: new subscribers must open a new feed.
        self.closing = False
        self._leaderboards = leaderboards
        self._hub = hub
        # Counted per push: the counters are looked up once, here.
        self._pushed = metrics.board_push_counter(name)
        self._rank_pushes = metrics.push_counter("rank.changed")
        self._top_pushes = metrics.push_counter("board.top")
        self._pacing = pacing
        self._retire = retire
        self._state = BoardState("desc", "", pacing=pacing, now=time.monotonic())
        self._channels: list[str] = []
        self._listening = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        """Player id -> subscription (read only: `BoardState` changes it)."""
        return self._state.subscriptions

    @property
    def empty(self) -> bool:
        return not self._state.subscriptions

    async def open(self) -> None:
        """Listen to the board's channels (`BoardNotFound` if it doesn't exist)."""
        board = await self._leaderboards.get_board(self.name)
        period = await self._leaderboards.live_period(self.name)
        config = board.config
        self._state = BoardState(
            config.order, period, config.sub_boards, pacing=self._pacing, now=time.monotonic()
        )
        self._channels = await self._leaderboards.channels(self.name)
        self._listening = True
        try:
            for channel in self._channels:
                await self._hub.listen(channel, self._on_message, self._on_gap)
        except TimeoutError as exc:
            await self._unlisten()
            raise Unavailable("board pushes are not available right now") from exc
        except BaseException:
            await self._unlisten()
            raise
        self._task = asyncio.create_task(self._run(), name=f"board-feed-{self.name}")

    async def close(self) -> None:
        """Stop the flusher and the channels; safe to call more than once."""
        self.closing = True
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._unlisten()

    async def _unlisten(self) -> None:
        if not self._listening:
            return
        self._listening = False
        for channel in self._channels:
            await self._hub.unlisten(channel)

    async def join(self, player_id: str, connection: ClientConnection, top: int) -> int | None:
        """Add or replace the player's subscription; its current rank (None if absent)."""
        state = self._state
        joining = state.join(player_id, connection, top)
        try:
            found = (await self._leaderboards.ranks_of(self.name, [player_id])).get(player_id)
        except BaseException:
            state.join_failed(joining)
            raise
        rank = state.joined(joining, found)
        self._wake.set()
        return rank

    def remove(self, player_id: str, connection: ClientConnection) -> bool:
        """Drop the player's subscription if `connection` holds it."""
        return self._state.leave(player_id, connection)

    # Events (called by the push hub, synchronously: handed to the state, never awaits).

    def _on_message(self, raw: bytes) -> None:
        try:
            event = self._leaderboards.decode_event(raw)
        except ValueError:
            log.warning("board %s: ignoring a malformed event %r", self.name, raw[:80])
            return
        self._state.on_change(event, time.monotonic())
        if event.kind in ("reset", "delete"):
            self._leaderboards.invalidate(self.name)
        self._wake.set()

    def _on_gap(self) -> None:
        """A channel was subscribed again: its events in between are lost."""
        self._state.on_gap()
        self._wake.set()

    # The flusher: the one task that queries and pushes for this board.

    async def _run(self) -> None:
        state = self._state
        while not self.closing:
            delay = state.next_deadline() - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            try:
                await self._step()
            except BoardNotFound:
                state.board_deleted()
            except Exception:
                log.warning("board %s: pushes delayed", self.name, exc_info=True)
                await asyncio.sleep(_RETRY_S)
            if state.life is BoardLife.DELETED:
                ranks, tops = state.farewells()
                await self._deliver_ranks(ranks)
                await self._deliver_tops(tops)
                await self._retire(self)
                return

    async def _step(self) -> None:
        state = self._state
        schedule = state.schedule
        if state.period_check_due(time.monotonic()):
            await self._check_period()
        state.refresh_if_due(time.monotonic())
        if state.ranks_due(time.monotonic()):
            for count, pushes in enumerate(state.take_moved(_YIELD_EVERY)):
                if count:
                    await asyncio.sleep(0)
                for push in pushes:
                    self._deliver_rank(push)
            if state.stale:
                await self._flush_ranks()
            else:
                schedule.ranks_flushed(time.monotonic())
        if state.top_due(time.monotonic()):
            await self._flush_top()

    async def _check_period(self) -> None:
        state = self._state
        if state.start_period_check(time.monotonic()):
            # A write of a period we don't know: the cached board may be stale too.
            self._leaderboards.invalidate(self.name)
        try:
            period = await self._leaderboards.live_period(self.name)
        except BaseException:
            state.period_check_failed()
            raise
        state.period_read(period)

    async def _flush_ranks(self) -> None:
        state = self._state
        requery = state.start_requery()
        try:
            try:
                found = await self._leaderboards.ranks_of(
                    self.name, [s.player_id for s in requery.subscriptions]
                )
                for count, subscription in enumerate(requery.subscriptions, 1):
                    push = state.settle(requery, subscription, found.get(subscription.player_id))
                    if push is not None:
                        self._deliver_rank(push)
                    if count % _YIELD_EVERY == 0:
                        await asyncio.sleep(0)
            except BaseException:
                state.requery_failed(requery)
                raise
            finally:
                state.end_requery(requery)
        finally:
            state.schedule.ranks_flushed(time.monotonic())

    async def _flush_top(self) -> None:
        state = self._state
        limit = state.start_top()
        if limit == 0:
            return
        try:
            try:
                page = await self._leaderboards.top(self.name, limit)
            except BaseException:
                state.top_failed()
                raise
            state.top_read(page.entries, limit)
            entries = await named_entries(self._names, page.entries)
            await self._deliver_tops(state.take_top(entries, limit))
        finally:
            state.schedule.top_flushed(time.monotonic())

    # Writes: every frame through the socket's one writer, `ClientConnection.send`.

    async def _deliver_ranks(self, pushes: list[RankPush]) -> None:
        for count, push in enumerate(pushes, 1):
            self._deliver_rank(push)
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)

    def _deliver_rank(self, push: RankPush) -> None:
        if push.subscription.state is RankState.GONE:
            return  # left while the flush handed the event loop back
        payload = push_event(
            "rank.changed",
            board=self.name,
            rank=push.rank,
            previous_rank=push.previous_rank,
            score=push.score,
        )
        self._deliver(push.subscription, self._rank_pushes, payload)

    async def _deliver_tops(self, pushes: list[TopPush]) -> None:
        count = 0
        for push in pushes:
            payload = push_event("board.top", board=self.name, entries=push.entries)
            for subscription in push.subscriptions:
                count += 1
                if count % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                if subscription.state is not RankState.GONE:
                    self._deliver(subscription, self._top_pushes, payload)

    def _deliver(self, subscription: Subscription, pushes: Any, payload: bytes) -> None:
        if subscription.connection.send(payload):
            pushes.inc()
            self._pushed.inc()
