"""Period ends: claimed once, kept in an outbox until their pushes and webhook are done.

A period ends by a reset (claimed inside the reset's own call), a rollover or a
tournament's `end_at` (claimed by a worker, which looks every few seconds). A claim and
its job are one write on the registry's slot, so an end is never lost between them and
never claimed twice, however many workers look. Workers lease jobs from the outbox; a
job whose worker died is taken again once its lease runs out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

from domain.leaderboards import keys
from domain.leaderboards.functions import Applied, PeriodClaim, PeriodSave, PeriodTake, PeriodTaken
from domain.leaderboards.models import Board
from domain.leaderboards.periods import ended_periods
from domain.storage.auto_pipeline import Wait
from domain.storage.shard_calls import Call, ShardCaller

# Claims already made by this process are not sent again (bounded; forgetting one only
# costs a claim that answers "already claimed").
_REMEMBERED_CLAIMS = 100_000


@dataclass
class PeriodEndJob:
    """What is left to do for one ended period (stored as JSON in the outbox)."""

    id: str
    board: str
    gen: int
    period: str
    ended_at: float
    reason: str
    url: str | None = None
    top: int = 100
    # Pushes go out page by page; `cursor` is where a worker that died left off.
    pushed: bool = False
    cursor: str | None = None
    attempts: int = 0
    next_at: float = 0.0
    lease: str = ""
    lease_until: float = 0.0

    def to_json(self) -> str:
        fields = asdict(self)
        del fields["id"]
        if fields["url"] is None:
            del fields["url"]
        if fields["cursor"] is None:
            del fields["cursor"]
        return orjson.dumps(fields).decode()

    @classmethod
    def from_json(cls, job_id: str, raw: bytes | str) -> PeriodEndJob:
        fields: dict[str, Any] = orjson.loads(raw)
        return cls(
            id=job_id,
            board=str(fields["board"]),
            gen=int(fields["gen"]),
            period=str(fields["period"]),
            ended_at=float(fields["ended_at"]),
            reason=str(fields.get("reason", "")),
            url=fields.get("url") or None,
            top=int(fields.get("top") or 100),
            pushed=bool(fields.get("pushed")),
            cursor=fields.get("cursor") or None,
            attempts=int(fields.get("attempts") or 0),
            next_at=float(fields.get("next_at") or 0),
            lease=str(fields.get("lease") or ""),
            lease_until=float(fields.get("lease_until") or 0),
        )


class PeriodEndOutbox:
    def __init__(self, caller: ShardCaller, wait: Wait) -> None:
        self._caller = caller
        self._wait = wait
        self._claimed: set[tuple[str, int, str, str]] = set()

    async def claim_ended(self, boards: list[Board], now: float) -> int:
        """Claim every period of `boards` that ended by `now` and is not claimed yet;
        how many this call claimed."""
        claimed = 0
        for board in boards:
            for base, ended_at, reason in ended_periods(board, now):
                mark = (board.name, board.gen, base, reason)
                if mark in self._claimed:
                    continue
                claimed += await self.claim(board, base, ended_at, reason)
                if len(self._claimed) >= _REMEMBERED_CLAIMS:
                    self._claimed.clear()
                self._claimed.add(mark)
        return claimed

    async def claim(self, board: Board, base: str, ended_at: float, reason: str) -> bool:
        """Claim the end of period id `base` (`rollover` or `end_at`); the label that
        ended is resolved in the claim, from the labels resets ended."""
        job = PeriodEndJob(
            id="",
            board=board.name,
            gen=board.gen,
            period=base,
            ended_at=ended_at,
            reason=reason,
            url=board.config.on_period_end,
            top=board.config.on_period_end_top,
        )
        call = PeriodClaim(
            keys.period_ends_claimed(board.name),
            keys.PERIOD_END_OUTBOX,
            board.name,
            board.gen,
            base,
            ended_at,
            job.to_json(),
            reason,
        )
        # Idempotent: a claim sent twice finds the first and does nothing.
        raw = await self._caller.write(call.call(), *self._wait, idempotent=True)
        return Applied.decode(raw).applied

    async def take(self, worker: str, now: float, lease_s: float) -> PeriodEndJob | None:
        """A job that is due and not leased, now leased to `worker` for `lease_s`."""
        call = PeriodTake(keys.PERIOD_END_OUTBOX, now, lease_s, worker)
        raw = await self._caller.write(call.call(), *self._wait, idempotent=False)
        taken = PeriodTaken.decode(raw)
        if taken is None:
            return None
        return PeriodEndJob.from_json(taken.job_id, taken.job)

    async def save(self, job: PeriodEndJob, worker: str) -> bool:
        """Store the job's progress; False when this worker's lease was lost."""
        return await self._save(job.id, worker, job.to_json())

    async def finish(self, job: PeriodEndJob, worker: str) -> bool:
        """Remove the done job; False when this worker's lease was lost."""
        return await self._save(job.id, worker, "")

    async def pending(self) -> list[PeriodEndJob]:
        """Every job in the outbox (operators and tests)."""
        outbox = keys.PERIOD_END_OUTBOX
        (raw,) = await self._caller.read([Call(outbox, ("HGETALL", outbox))])
        return [PeriodEndJob.from_json(k.decode(), v) for k, v in raw.items()]

    async def _save(self, job_id: str, worker: str, raw: str) -> bool:
        call = PeriodSave(keys.PERIOD_END_OUTBOX, job_id, worker, raw)
        reply = await self._caller.write(call.call(), *self._wait, idempotent=True)
        return Applied.decode(reply).applied
