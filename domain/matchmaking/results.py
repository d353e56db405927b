"""Match results: every player of a match rated at once, exactly once.

A result is acknowledged only once replicas confirm `mm_save_result` (WAIT); clearing the
players' current match and the ranked-board scores follow, and a repeat redoes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from domain.errors import BadRequest, Conflict, DomainError, Unavailable
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.models import Match
from domain.matchmaking.ports import RankedBoardSink
from domain.matchmaking.rating_store import RatingStore, decode_rating
from domain.matchmaking.ratings import Rating, rate
from domain.matchmaking.redaction import ERASED
from domain.matchmaking.store import MatchmakingStore

log = logging.getLogger(__name__)


def parse_ranks(raw: object) -> list[int]:
    """Ranks per team, 1 = winner, equal ranks for a draw."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest("ranks must be a list with one rank per team")
    if not all(isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= len(raw) for r in raw):
        raise BadRequest("each rank must be an integer from 1 to the number of teams")
    return list(raw)


def _ratings_of(result: dict[str, Any]) -> dict[str, Rating]:
    return {p: Rating(mu, sigma) for p, (mu, sigma) in result["ratings"].items()}


class Results:
    def __init__(
        self,
        store: MatchmakingStore,
        boards: RankedBoardSink | None,
        limits: MatchmakingLimits,
    ) -> None:
        self.store = RatingStore(store)
        self._boards = boards
        self._limits = limits

    async def report(
        self, match: Match, ranks: Sequence[int], board: str | None
    ) -> dict[str, Rating]:
        if len(ranks) != len(match.teams):
            raise BadRequest(f"ranks must have {len(match.teams)} entries, one per team")
        # An erased player's seat still plays its part in the others' new ratings, at the
        # default rating; nothing is stored for it.
        players = [p for team in match.teams for p in team if p != ERASED]
        ttl_ms = round(self._limits.result_ttl_s * 1000)
        for _ in range(self._limits.rate_retries):
            # No read of an earlier result first: the function answers a repeat with the
            # recorded result, and only its write makes the WAIT cover that result.
            read = await self.store.raw_ratings(players)
            stored = dict(zip(players, read, strict=True))
            teams = [[decode_rating(stored.get(p)) for p in team] for team in match.teams]
            rated = {
                p: r
                for team, new_team in zip(match.teams, rate(teams, ranks), strict=True)
                for p, r in zip(team, new_team, strict=True)
            }
            new = [rated[p] for p in players]
            result = {
                "ranks": list(ranks),
                "ratings": {p: [r.mu, r.sigma] for p, r in zip(players, new, strict=True)},
            }
            status, saved = await self.store.save_result(
                match.match_id, players, read, new, result, ttl_ms
            )
            if saved is not None:
                return await self._settled(match, players, ranks, saved, board)
            # status 2: another result moved one of these ratings since we read them.
        raise Unavailable("the players' ratings kept changing; report the result again")

    async def _settled(
        self,
        match: Match,
        players: list[str],
        ranks: Sequence[int],
        result: dict[str, Any],
        board: str | None,
    ) -> dict[str, Rating]:
        """Finish what follows a rated result; a repeat redoes it, harmlessly."""
        if list(result["ranks"]) != list(ranks):
            raise Conflict("this match has a different result already")
        await self.store.clear_in_match(players, match.match_id)
        if board is not None and self._boards is not None:
            # The current rating, not this match's: a later match may have moved it.
            # Each player's score is its own write: all of them in one round.
            current = await self.store.ratings(players)
            await asyncio.gather(
                *(
                    self._feed(board, player_id, rating.ordinal())
                    for player_id, rating in zip(players, current, strict=True)
                )
            )
        return _ratings_of(result)

    async def _feed(self, board: str, player_id: str, ordinal: float) -> None:
        """One player's ordinal to the ranked board. The result is committed already, so a
        board that refuses it (deleted since, past its `end_at`, its score rules) costs
        that board's entry, never the result's answer; `Unavailable` still propagates: a
        repeat of the result feeds the board again."""
        assert self._boards is not None
        try:
            await self._boards.submit(board, player_id, ordinal)
        except Unavailable:
            raise
        except DomainError as refused:
            log.warning("ranked board %s refused %s's ordinal: %s", board, player_id, refused)
