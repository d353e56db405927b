"""One board's live pushes on this gateway: its local subscribers and their flusher.

Change events move the ranks of the subscribers they pass, or mark them (and the top)
for a re-query (`BoardMarks`); the flusher re-queries the marked ones' exact ranks in
one batch and pushes `rank.changed` to those whose rank differs from the last one they
were told, and `board.top` to those whose top slice changed, paced by `FlushSchedule`.
After the board goes quiet every subscriber is re-queried once, so a lost pub/sub
message can't leave a stale rank behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.errors import BoardNotFound, Unavailable
from domain.leaderboards.models import PlayerRank
from domain.leaderboards.service import LeaderboardService
from gameserver.board_entries import DisplayNames, named_entries
from gameserver.gateway.connection import ClientConnection
from gameserver.metrics import Metrics
from gameserver.push.board_marks import BoardMarks
from gameserver.push.board_schedule import FlushSchedule, PushPacing
from gameserver.push.events import push_event
from gameserver.push.hub import PushHub

log = logging.getLogger(__name__)

# Pause of a flusher after a failed query (the cluster may be failing over).
_RETRY_S = 0.5
# A flush hands the event loop back after this many subscribers: pushes are written
# inline, and thousands of them must not hold up every other socket's replies.
_YIELD_EVERY = 256


@dataclass(eq=False)
class Subscription:
    connection: ClientConnection
    top: int
    # False until the subscribe reply is on its way: no push may overtake it.
    ready: bool = False
    # What the subscriber was last told (subscribe reply or push).
    rank: int | None = None
    shown_top: list[dict[str, Any]] | None = None


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
        self.subscriptions: dict[str, Subscription] = {}
        # Set once the feed is being retired: new subscribers must open a new feed.
        self.closing = False
        self._leaderboards = leaderboards
        self._hub = hub
        self._metrics = metrics
        self._pushed = metrics.board_push_counter(name)
        self._schedule = FlushSchedule(pacing, time.monotonic())
        self._retire = retire
        self._marks = BoardMarks("desc", "")
        self._channels: list[str] = []
        self._listening = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def empty(self) -> bool:
        return not self.subscriptions

    async def open(self) -> None:
        """Listen to the board's channels (`BoardNotFound` if it doesn't exist)."""
        board = await self._leaderboards.get_board(self.name)
        period = await self._leaderboards.live_period(self.name)
        self._marks = BoardMarks(board.config.order, period, board.config.sub_boards)
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
        subscription = Subscription(connection, top)
        previous = self.subscriptions.get(player_id)
        self.subscriptions[player_id] = subscription
        marks = self._marks
        seq, since = marks.seq(player_id), marks.begin_query()
        try:
            try:
                found = (await self._leaderboards.ranks_of(self.name, [player_id])).get(player_id)
            except BaseException:
                if self.subscriptions.get(player_id) is subscription:
                    if previous is None:
                        del self.subscriptions[player_id]
                        marks.forget(player_id)
                    else:
                        self.subscriptions[player_id] = previous
                raise
            if self.subscriptions.get(player_id) is not subscription:
                return found.rank if found else None  # another socket of the player took over
            # Events that arrived during the query are replayed on its answer.
            applied = marks.requeried(player_id, found, seq, since)
        finally:
            marks.end_query()
        # An own write that overtook the query: its answer, exact when read, until the
        # re-query this write asked for.
        if applied:
            subscription.rank = marks.ranks.get(player_id)
        else:
            subscription.rank = found.rank if found else None
        subscription.ready = True
        if top:
            marks.top_dirty = True
        self._wake.set()
        return subscription.rank

    def remove(self, player_id: str, connection: ClientConnection) -> bool:
        """Drop the player's subscription if `connection` holds it."""
        subscription = self.subscriptions.get(player_id)
        if subscription is None or subscription.connection is not connection:
            return False
        del self.subscriptions[player_id]
        self._marks.forget(player_id)
        return True

    # Events (called by the push hub, synchronously: only marks, never awaits).

    def _on_message(self, raw: bytes) -> None:
        try:
            event = self._leaderboards.decode_event(raw)
        except ValueError:
            log.warning("board %s: ignoring a malformed event %r", self.name, raw[:80])
            return
        self._schedule.event_seen(time.monotonic())
        self._marks.apply(event, self.subscriptions)
        if event.kind in ("reset", "delete"):
            self._leaderboards.invalidate(self.name)
        self._wake.set()

    def _on_gap(self) -> None:
        """A channel was subscribed again: its events in between are lost, and ranks
        moved by events may miss some. Re-query everyone and check the period (a reset
        event may be among the lost)."""
        self._marks.mark_all(self.subscriptions)
        self._marks.period_in_doubt = True
        self._wake.set()

    # The flusher.

    async def _run(self) -> None:
        while not self.closing:
            delay = self._next_deadline() - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            try:
                await self._step()
            except BoardNotFound:
                self._marks.deleted = True
            except Exception:
                log.warning("board %s: pushes delayed", self.name, exc_info=True)
                await asyncio.sleep(_RETRY_S)
            if self._marks.deleted:
                self._tell_deleted()
                await self._retire(self)
                return

    def _next_deadline(self) -> float:
        marks = self._marks
        if marks.deleted or marks.period_in_doubt:
            return 0.0
        return self._schedule.next_deadline(
            ranks_dirty=bool(marks.dirty or marks.shifted), top_dirty=marks.top_dirty
        )

    async def _step(self) -> None:
        schedule, marks = self._schedule, self._marks
        now = time.monotonic()
        if marks.period_in_doubt or schedule.period_check_due(now):
            await self._check_period()
        if schedule.take_full_refresh(now):
            marks.mark_all(self.subscriptions)
        if (marks.dirty or marks.shifted) and schedule.ranks_due(now):
            await self._push_shifted()
            if marks.dirty:
                await self._flush_ranks()
            else:
                schedule.ranks_flushed(time.monotonic())
        if marks.top_dirty and schedule.top_due(time.monotonic()):
            await self._flush_top()

    async def _check_period(self) -> None:
        marks = self._marks
        in_doubt, marks.period_in_doubt = marks.period_in_doubt, False
        if in_doubt:
            # A write of a period we don't know: a reset whose event we missed, or a new
            # period that began; an old period's write racing a reset changes nothing.
            self._leaderboards.invalidate(self.name)
        self._schedule.period_checked(time.monotonic())
        try:
            period = await self._leaderboards.live_period(self.name)
        except Exception:
            marks.period_in_doubt = in_doubt
            raise
        if period != marks.period:
            marks.period = period
            marks.mark_all(self.subscriptions, forget_ranks=True)

    async def _flush_ranks(self) -> None:
        marks = self._marks
        wanted = {
            player_id: subscription
            for player_id in marks.dirty
            if (subscription := self.subscriptions.get(player_id)) is not None
            and subscription.ready
        }
        # Players still joining stay dirty; players gone are forgotten.
        marks.dirty = {p for p in marks.dirty if p in self.subscriptions and p not in wanted}
        seqs = {player_id: marks.seq(player_id) for player_id in wanted}
        since = marks.begin_query()
        try:
            found = await self._leaderboards.ranks_of(self.name, list(wanted))
            for count, (player_id, subscription) in enumerate(wanted.items(), 1):
                self._settle_rank(player_id, subscription, seqs[player_id], since, found)
                if count % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        except BaseException:
            marks.dirty.update(p for p in wanted if p in self.subscriptions)
            raise
        finally:
            marks.end_query()
            self._schedule.ranks_flushed(time.monotonic())

    def _settle_rank(
        self,
        player_id: str,
        subscription: Subscription,
        seq: int,
        since: int,
        found: dict[str, PlayerRank],
    ) -> None:
        if self.subscriptions.get(player_id) is not subscription:
            return
        if self._marks.requeried(player_id, found.get(player_id), seq, since):
            self._push_rank(player_id, subscription)

    async def _push_shifted(self) -> None:
        """Push the ranks that events moved since they were last pushed. A subscriber
        whose earlier frames are still queued gets its rank at a later flush, coalesced:
        a socket slower than the board never piles up stale ranks. One about to be
        re-queried waits for its answer: one push per subscriber and flush."""
        marks = self._marks
        shifted, marks.shifted = marks.shifted, set()
        for count, player_id in enumerate(shifted, 1):
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            subscription = self.subscriptions.get(player_id)
            if subscription is None or not subscription.ready or player_id in marks.dirty:
                continue
            if subscription.connection.busy:
                marks.shifted.add(player_id)
            else:
                self._push_rank(player_id, subscription)

    def _push_rank(self, player_id: str, subscription: Subscription) -> None:
        rank = self._marks.ranks.get(player_id)
        if rank == subscription.rank:
            return
        payload = push_event(
            "rank.changed",
            board=self.name,
            rank=rank,
            previous_rank=subscription.rank,
            score=None if rank is None else self._marks.score(player_id),
        )
        subscription.rank = rank
        self._deliver(subscription, "rank.changed", payload)

    async def _flush_top(self) -> None:
        marks = self._marks
        limit = max((s.top for s in self.subscriptions.values()), default=0)
        marks.top_dirty = False
        if limit == 0:
            return
        try:
            marks.top_fetching = True
            try:
                page = await self._leaderboards.top(self.name, limit)
            except BaseException:
                marks.top_dirty = True
                raise
            finally:
                marks.top_fetching = False
            marks.top_seen(page.entries, limit)
            await self._push_top(await named_entries(self._names, page.entries), limit)
        finally:
            self._schedule.top_flushed(time.monotonic())

    async def _push_top(self, entries: list[dict[str, Any]], limit: int) -> None:
        by_length: dict[int, tuple[list[dict[str, Any]], bytes]] = {}
        for count, subscription in enumerate(list(self.subscriptions.values()), 1):
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if not subscription.ready or not subscription.top:
                continue
            if subscription.top > limit:
                self._marks.top_dirty = True  # joined during the fetch with a longer top
                continue
            shown, payload = by_length.get(subscription.top) or (None, b"")
            if shown is None:
                # Subscribers of one top length share the slice and its encoded frame.
                shown = entries[: subscription.top]
                payload = push_event("board.top", board=self.name, entries=shown)
                by_length[subscription.top] = (shown, payload)
            if shown != subscription.shown_top:
                if subscription.connection.busy:
                    self._marks.top_dirty = True  # coalesced into a later flush
                    continue
                subscription.shown_top = shown
                self._deliver(subscription, "board.top", payload)

    def _tell_deleted(self) -> None:
        """The board is gone: every rank is now null and every top empty."""
        for subscription in self.subscriptions.values():
            if not subscription.ready:
                continue
            if subscription.rank is not None:
                payload = push_event(
                    "rank.changed",
                    board=self.name,
                    rank=None,
                    previous_rank=subscription.rank,
                    score=None,
                )
                subscription.rank = None
                self._deliver(subscription, "rank.changed", payload)
            if subscription.top and subscription.shown_top:
                subscription.shown_top = []
                payload = push_event("board.top", board=self.name, entries=[])
                self._deliver(subscription, "board.top", payload)

    def _deliver(self, subscription: Subscription, event: str, payload: bytes) -> None:
        if subscription.connection.send(payload):
            self._metrics.count_push(event)
            self._pushed.inc()
