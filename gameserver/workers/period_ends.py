"""The period-end worker: claims ended periods, pushes final ranks, delivers webhooks.

Every `period_check_s` it claims the periods that ended by time (rollovers, `end_at`;
resets claim their own), then works through the outbox: for each job it holds a lease,
pushes `board.period_ended` page by page to the period's players who are online (saving
its place after each page), then POSTs the final top N to the board's `on_period_end`
URL until it answers 2xx (backing off between attempts), and only then removes the job.
A worker that dies leaves the job in the outbox; another takes it when the lease ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any

import httpx
import orjson

from domain.clock import Clock
from domain.errors import BoardNotFound, DomainError, Unavailable
from domain.leaderboards.models import RankedEntry
from domain.leaderboards.period_ends import PeriodEndJob
from domain.leaderboards.service import LeaderboardService
from gameserver.board_entries import DisplayNames, named_entries
from gameserver.push.control import PlayerMessenger
from gameserver.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Gameserver-Signature"
DELIVERY_HEADER = "X-Gameserver-Delivery"
_PAGE = 100
# Jobs one check takes (and works through side by side) before it looks for new ends.
_JOBS_PER_CHECK = 32


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value: `sha256=` + hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Wait before the next attempt after `attempts` failed ones: doubling, capped."""
    return float(min(max_s, base_s * 2 ** min(attempts - 1, 30)))


class PeriodEndWorker:
    def __init__(
        self,
        leaderboards: LeaderboardService,
        messenger: PlayerMessenger,
        names: DisplayNames | None,
        clock: Clock,
        settings: Settings,
        worker_id: str,
    ) -> None:
        self._leaderboards = leaderboards
        self._outbox = leaderboards.period_ends
        self._messenger = messenger
        self._names = names
        self._clock = clock
        self._settings = settings
        self._worker_id = worker_id
        self._secret = (settings.webhook_secret or settings.admin_key).encode()
        # An attempt ends well within the lease it starts with, so no other worker takes
        # the job (and POSTs it again) while this one still waits for an answer.
        self._webhook_timeout_s = min(settings.webhook_timeout_s, settings.period_lease_s / 2)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=self._webhook_timeout_s) as http:
            while not stop.is_set():
                try:
                    await self.check(http)
                except Unavailable as exc:  # a failover, no replica, a full node: expected
                    log.warning("period-end check failed: %s", exc)
                except Exception:  # a broken check must not end the loop
                    log.exception("period-end check failed")
                try:
                    await asyncio.wait_for(stop.wait(), self._settings.period_check_s)
                except TimeoutError:
                    pass

    async def check(self, http: httpx.AsyncClient) -> None:
        await self._outbox.claim_ended(await self._leaderboards.boards(), self._clock.now())
        jobs: list[PeriodEndJob] = []
        for _ in range(_JOBS_PER_CHECK):
            now = self._clock.now()
            job = await self._outbox.take(self._worker_id, now, self._settings.period_lease_s)
            if job is None:
                break
            jobs.append(job)
        # Side by side: a slow webhook must not hold up another period's pushes.
        done = await asyncio.gather(
            *(self.handle(job, http) for job in jobs), return_exceptions=True
        )
        for job, outcome in zip(jobs, done, strict=True):
            if isinstance(outcome, Exception):
                # Left leased: taken again when the lease runs out.
                log.error("period end %s failed: %r", job.id, outcome)

    async def handle(self, job: PeriodEndJob, http: httpx.AsyncClient) -> None:
        progressed = False
        if not job.pushed:
            if not await self._push(job):
                return
            job.pushed, job.cursor = True, None
            progressed = True
        if job.url is not None:
            # A fresh lease for the attempt (the pushes may have used up the first).
            job.lease_until = self._clock.now() + self._settings.period_lease_s
            progressed = True
        if progressed and not await self._outbox.save(job, self._worker_id):
            return
        if job.url is not None and not await self._deliver(job, http):
            job.attempts += 1
            now = self._clock.now()
            job.next_at = now + backoff_s(
                job.attempts, self._settings.webhook_backoff_s, self._settings.webhook_backoff_max_s
            )
            job.lease, job.lease_until = "", 0.0
            await self._outbox.save(job, self._worker_id)
            return
        await self._outbox.finish(job, self._worker_id)

    async def _push(self, job: PeriodEndJob) -> bool:
        """Push every entry's final rank, page by page; False if the lease was lost."""
        while True:
            page = await self._page(job, _PAGE, job.cursor)
            if page is None:
                return True
            entries, cursor = page
            await self._messenger.push_each({e.player_id: _ended_event(job, e) for e in entries})
            if cursor is None:
                return True
            job.cursor = cursor
            job.lease_until = self._clock.now() + self._settings.period_lease_s
            if not await self._outbox.save(job, self._worker_id):
                return False

    async def _page(
        self, job: PeriodEndJob, limit: int, cursor: str | None
    ) -> tuple[list[RankedEntry], str | None] | None:
        """A page of the job's period, or None when its board is gone (or made again)."""
        try:
            board = await self._leaderboards.get_board(job.board)
            if board.gen != job.gen:
                return None
            page = await self._leaderboards.top(job.board, limit, cursor, period=job.period)
        except BoardNotFound:
            return None
        return page.entries, page.next_cursor

    async def _top(self, job: PeriodEndJob) -> list[RankedEntry]:
        entries: list[RankedEntry] = []
        cursor = None
        while len(entries) < job.top:
            page = await self._page(job, min(_PAGE, job.top - len(entries)), cursor)
            if page is None:
                break
            entries += page[0]
            cursor = page[1]
            if cursor is None:
                break
        return entries

    async def _deliver(self, job: PeriodEndJob, http: httpx.AsyncClient) -> bool:
        """POST the final top N once; True on a 2xx answer."""
        assert job.url is not None
        if not self._secret:
            # A signature under an empty key proves nothing: send nothing until one is set.
            log.error("period end %s: no GAMESERVER_WEBHOOK_SECRET or admin key to sign", job.id)
            return False
        try:
            entries = await named_entries(self._names, await self._top(job))
        except DomainError:
            log.exception("period end %s: reading its entries failed", job.id)
            return False
        body = orjson.dumps(webhook_body(job, entries))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body),
            DELIVERY_HEADER: job.id,
        }
        try:
            answer = await http.post(
                job.url, content=body, headers=headers, timeout=self._webhook_timeout_s
            )
        except httpx.HTTPError as exc:
            log.warning("period end %s: webhook failed: %r", job.id, exc)
            return False
        if 200 <= answer.status_code < 300:
            return True
        log.warning("period end %s: webhook answered %d", job.id, answer.status_code)
        return False


def webhook_body(job: PeriodEndJob, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"board": job.board, "period": job.period, "ended_at": job.ended_at, "entries": entries}


def _ended_event(job: PeriodEndJob, entry: RankedEntry) -> dict[str, Any]:
    return {
        "event": "board.period_ended",
        "board": job.board,
        "period": job.period,
        "rank": entry.rank,
        "score": entry.score,
    }
