"""After the load: the service's answers agree with the raw sorted set of the same players.

Ranks are checked against the raw set's counts: a player's exact rank lies between
1 + the players scoring strictly better and the players scoring at least as well (ties
order by time on the board and by member in the raw set).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards.service import LeaderboardService
from loadtest.board_bench.phases import AROUND_RADIUS, TOP_LIMIT
from loadtest.board_bench.players import player_id


@dataclass
class CheckResult:
    count: int = 0
    players_checked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        summary = (
            f"count {self.count:,}, {self.players_checked} ranks, top {TOP_LIMIT} and "
            f"around agree with the raw set"
            if self.ok
            else f"{len(self.failures)} FAILED: {'; '.join(self.failures[:3])}"
        )
        return {
            "ok": self.ok,
            "count": self.count,
            "players_checked": self.players_checked,
            "failures": self.failures,
            "summary": summary,
        }


async def check_board(
    service: LeaderboardService,
    raw: ValkeyCluster,
    board: str,
    raw_key: str,
    players: int,
    checks: int,
    rng: random.Random,
) -> CheckResult:
    result = CheckResult(count=await service.count(board))
    if result.count != players:
        result.failures.append(f"the board counts {result.count} players, not {players}")
    for _ in range(checks):
        pid = player_id(rng.randrange(players))
        entry = await service.rank(board, pid)
        score = float(await raw.zscore(raw_key, pid))
        better = int(await raw.zcount(raw_key, f"({score!r}", "+inf"))
        tied = int(await raw.zcount(raw_key, repr(score), repr(score)))
        if entry.score != score or not better + 1 <= entry.rank <= better + tied:
            result.failures.append(
                f"{pid}: rank {entry.rank} score {entry.score}; raw: score {score}, "
                f"{better} better, {tied} tied"
            )
        window = await service.around(board, pid, AROUND_RADIUS)
        ranks = [e.rank for e in window]
        mine = [e.rank for e in window if e.player_id == pid]
        if mine != [entry.rank] or ranks != list(range(ranks[0], ranks[0] + len(ranks))):
            result.failures.append(f"{pid}: around gives ranks {ranks}, own {mine}")
        result.players_checked += 1
    page = await service.top(board, TOP_LIMIT)
    best = await raw.zrange(raw_key, 0, 0, desc=True, withscores=True)
    ranks = [e.rank for e in page.entries]
    if ranks != list(range(1, min(TOP_LIMIT, players) + 1)) or page.entries[0].score != best[0][1]:
        result.failures.append(f"top {TOP_LIMIT} starts at {page.entries[0]}, raw best {best}")
    return result
